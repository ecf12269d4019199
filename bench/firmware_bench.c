/* Times a model's generated firmware on this machine: the whole run and each layer (through the
   glue's QATC_LAYER_BEGIN/END hooks, which this file's build defines as bench_layer_begin/end).
   The model is compiled with `qatc compile --name qatc_bench`. The input is a fixed pseudo-random
   byte pattern: the kernels' speed does not depend on the values.
     firmware_bench REPEAT   -> one JSON object on stdout: run times and per-layer medians in ms, and
                                a hash of the output */
#define _POSIX_C_SOURCE 200112L /* clock_gettime */
#include "qatc_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if QATC_BENCH_NUM_INPUTS != 1 || QATC_BENCH_NUM_OUTPUTS != 1
#error "firmware_bench times models with one input and one output"
#endif

#define MAX_STEPS 4096

static double layer_ms[MAX_STEPS];
static int layer_seen[MAX_STEPS];
static struct timespec layer_start;

static double ms_between(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

void bench_layer_begin(int step) {
  (void)step;
  clock_gettime(CLOCK_MONOTONIC, &layer_start);
}

void bench_layer_end(int step) {
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  if (step >= 0 && step < MAX_STEPS) {
    layer_ms[step] = ms_between(&layer_start, &end);
    layer_seen[step] = 1;
  }
}

static int by_value(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, by_value);
  return v[n / 2];
}

int main(int argc, char **argv) {
  const int repeat = argc > 1 ? atoi(argv[1]) : 20;
  if (repeat < 1) {
    fprintf(stderr, "usage: firmware_bench REPEAT\n");
    return 2;
  }
  static unsigned char input[QATC_BENCH_INPUT0_ELEMENTS * 2], output[QATC_BENCH_OUTPUT0_ELEMENTS * 2];
  unsigned state = 12345;
  for (size_t i = 0; i < sizeof input; ++i) {
    state = state * 1103515245u + 12345u;
    input[i] = (unsigned char)(state >> 24) & 0x3f; /* small values: no saturation everywhere */
  }
  void *scratch = aligned_alloc(QATC_BENCH_SCRATCH_ALIGN, (QATC_BENCH_SCRATCH_BYTES + QATC_BENCH_SCRATCH_ALIGN - 1) /
                                                              QATC_BENCH_SCRATCH_ALIGN * QATC_BENCH_SCRATCH_ALIGN + QATC_BENCH_SCRATCH_ALIGN);
  double *runs = malloc(sizeof(double) * (size_t)repeat);
  double *per_layer = malloc(sizeof(double) * (size_t)repeat * MAX_STEPS);
  if (!scratch || !runs || !per_layer) return 3;
  for (int i = 0; i < 3; ++i)
    if (qatc_bench_run((void *)input, (void *)output, scratch) != 0) return 3;
  for (int r = 0; r < repeat; ++r) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    qatc_bench_run((void *)input, (void *)output, scratch);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    runs[r] = ms_between(&t0, &t1);
    for (int s = 0; s < MAX_STEPS; ++s) per_layer[(size_t)s * (size_t)repeat + (size_t)r] = layer_ms[s];
  }
  printf("{\"runs_ms\": [");
  for (int r = 0; r < repeat; ++r) printf("%s%.6f", r ? ", " : "", runs[r]);
  printf("], \"median_ms\": %.6f, \"layers_ms\": {", median(runs, repeat));
  for (int s = 0, first = 1; s < MAX_STEPS; ++s)
    if (layer_seen[s]) {
      printf("%s\"%d\": %.6f", first ? "" : ", ", s, median(per_layer + (size_t)s * (size_t)repeat, repeat));
      first = 0;
    }
  /* What the run computed, so that a test can hold the host objects to the generated C. */
  unsigned long long hash = 14695981039346656037ull;
  for (size_t i = 0; i < sizeof output; ++i) hash = (hash ^ output[i]) * 1099511628211ull;
  printf("}, \"output_fnv1a\": \"%016llx\"}\n", hash);
  free(per_layer);
  free(runs);
  free(scratch);
  return 0;
}
