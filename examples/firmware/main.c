/* A firmware-style program on the code qatc generates for examples/resnet_tiny:
 *
 *   qatc compile examples/resnet_tiny/model.onnx --target c7x-mma --sample examples/resnet_tiny -o OUT/resnet_tiny
 *   make -C examples/firmware FIRMWARE=OUT/resnet_tiny
 *
 * All memory is static (the scratch arena, input and output), nothing is allocated, and the weights
 * are const. It runs the model on the sample data set qatc embedded (resnet_tiny_sample.c) and
 * checks the outputs bit for bit: the same self-test runs unchanged on the target. */
#include "resnet_tiny.h"
#include "resnet_tiny_sample.h"

#include <stdio.h>
#include <string.h>

static unsigned char scratch[RESNET_TINY_SCRATCH_BYTES] __attribute__((aligned(RESNET_TINY_SCRATCH_ALIGN)));
static int8_t input[RESNET_TINY_INPUT0_ELEMENTS];
static int8_t output[RESNET_TINY_OUTPUT0_ELEMENTS];

int main(void) {
  int i, best = 0, mismatches = 0, status;
  /* On a board, a camera or DMA would fill the input with quantized pixels: q = round(x /
     RESNET_TINY_INPUT0_SCALE) + RESNET_TINY_INPUT0_ZERO_POINT, rounded by RESNET_TINY_INPUT0_ROUNDING. */
  memcpy(input, resnet_tiny_sample_input0, sizeof input);
  status = resnet_tiny_run(input, output, scratch);
  if (status != 0) {
    printf("resnet_tiny_run failed with status %d\n", status);
    return 1;
  }
  for (i = 0; i < RESNET_TINY_OUTPUT0_ELEMENTS; ++i) {
    const double score = (output[i] - RESNET_TINY_OUTPUT0_ZERO_POINT) * RESNET_TINY_OUTPUT0_SCALE;
    printf("class %d: %4d (%+.7f)%s\n", i, output[i], score,
           output[i] == resnet_tiny_sample_output0[i] ? "" : "  <- differs from qatc's integer simulator");
    mismatches += output[i] != resnet_tiny_sample_output0[i];
    if (output[i] > output[best]) best = i;
  }
  printf("predicted class %d; %d of %d outputs differ from the integer simulator\n", best, mismatches,
         RESNET_TINY_OUTPUT0_ELEMENTS);
  return mismatches != 0;
}
