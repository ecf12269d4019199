/* Forced into the generated glue when firmware_bench builds it, so that the glue's per-layer
   hooks call firmware_bench's timers. */
void bench_layer_begin(int step);
void bench_layer_end(int step);
#define QATC_LAYER_BEGIN(step) bench_layer_begin(step)
#define QATC_LAYER_END(step) bench_layer_end(step)
