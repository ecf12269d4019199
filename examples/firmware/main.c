/* A firmware-style program on the code qatc generates, for any model with one input and one
 * output compiled as `net` with an embedded sample (see CMakeLists.txt here):
 *
 *   qatc compile examples/resnet_tiny/model.onnx --target c7x-mma --name net --sample examples/resnet_tiny -o OUT/net
 *
 * All memory is static (the scratch arena, input and output), nothing is allocated, and the weights
 * are const. It quantizes the sample data set qatc embedded (net_sample.c), runs the model on it and
 * checks the quantized input and the outputs bit for bit: the same self-test runs unchanged on the
 * target. */
#include "net.h"
#include "net_sample.h"

#include <stdio.h>
#include <string.h>

static unsigned char scratch[NET_SCRATCH_BYTES] __attribute__((aligned(NET_SCRATCH_ALIGN)));
static net_input0_t input[NET_INPUT0_ELEMENTS];
static net_output0_t output[NET_OUTPUT0_ELEMENTS];

int main(void) {
  int i, best = 0, mismatches = 0, status;
#ifdef NET_HAS_QUANTIZE_INPUT0
  /* The sensor's float data, quantized on the target exactly as the model's quantizer does. */
  if (net_quantize_input0(net_sample_input0_float, input) != 0 || memcmp(input, net_sample_input0, sizeof input) != 0) {
    printf("net_quantize_input0 differs from qatc's quantization of the sample\n");
    return 1;
  }
  printf("quantized the float input: equal to qatc's quantization\n");
#else
  /* A camera or DMA fills the input with quantized pixels (the model takes integers, or its
     input scale is not a power of two: q = round(x / NET_INPUT0_SCALE) + NET_INPUT0_ZERO_POINT). */
  memcpy(input, net_sample_input0, sizeof input);
#endif
  status = net_run(input, output, scratch);
  if (status != 0) {
    printf("net_run failed with status %d\n", status);
    return 1;
  }
  for (i = 0; i < NET_OUTPUT0_ELEMENTS; ++i) {
    const double score = (output[i] - NET_OUTPUT0_ZERO_POINT) * NET_OUTPUT0_SCALE;
    printf("class %d: %4d (%+.7f)%s\n", i, output[i], score,
           output[i] == net_sample_output0[i] ? "" : "  <- differs from qatc's integer simulator");
    mismatches += output[i] != net_sample_output0[i];
    if (output[i] > output[best]) best = i;
  }
  printf("predicted class %d; %d of %d outputs differ from the integer simulator\n", best, mismatches,
         NET_OUTPUT0_ELEMENTS);
  return mismatches != 0;
}
