/* Prints what the generated net_quantize_input0 makes of the embedded float sample, and whether it
 * equals the sample's quantized input (qatc's integer simulator):
 *   cc -std=c99 -I FIRMWARE print_input_quantize.c FIRMWARE_LIBRARY */
#include "net.h"
#include "net_sample.h"

#include <stdio.h>

int main(void) {
  static net_input0_t q[NET_INPUT0_ELEMENTS];
  int i, status = net_quantize_input0(net_sample_input0_float, q);
  printf("status %d, q =", status);
  for (i = 0; i < NET_INPUT0_ELEMENTS; ++i) printf(" %d", (int)q[i]);
  printf("\n");
  for (i = 0; i < NET_INPUT0_ELEMENTS; ++i)
    if (q[i] != net_sample_input0[i]) printf("element %d differs from the simulator's %d\n", i, (int)net_sample_input0[i]);
  return 0;
}
