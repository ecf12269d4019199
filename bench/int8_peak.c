/* This core's int8 multiply-accumulate peak, measured: AVX-512 VNNI's vpdpbusd does 64 u8 x s8
   products summed into 16 int32 lanes per instruction, so
       peak MAC/s = 64 x (vpdpbusd issued per cycle) x (cycles per second),
   and the product of the last two is what this loop measures: 16 independent accumulator chains
   (more than latency x ports) keep every port that takes vpdpbusd busy. On a CPU without VNNI the
   widest exact 8-bit multiply-accumulate is AVX2's vpmaddwd: 16 products of (widened) 16-bit
   operands summed in pairs into 8 int32 lanes (vpmaddubsw does 32, but its 16-bit pair sums
   saturate, so no exact kernel uses it on full-range operands), then a vpaddd.
   Prints one JSON object: the instruction, its MACs, instructions per second, MACs per second. */
#define _POSIX_C_SOURCE 200112L
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define CHAINS 16

__attribute__((target("avx512f,avx512vnni"))) static double run(long iterations) {
  __m512i acc[CHAINS];
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (int i = 0; i < CHAINS; ++i) acc[i] = _mm512_set1_epi32(i);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long n = 0; n < iterations; ++n)
#pragma GCC unroll 16
    for (int i = 0; i < CHAINS; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  int sink = 0;
  for (int i = 0; i < CHAINS; ++i) sink += _mm512_reduce_add_epi32(acc[i]);
  if (sink == 42) puts("");
  return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

__attribute__((target("avx2"))) static double run_avx2(long iterations) {
  __m256i acc[CHAINS];
  const __m256i b = _mm256_set1_epi16(-2);
  for (int i = 0; i < CHAINS; ++i) acc[i] = _mm256_set1_epi32(i);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long n = 0; n < iterations; ++n)
#pragma GCC unroll 16
    for (int i = 0; i < CHAINS; ++i) acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(acc[i], b));  /* in the chain: not hoisted */
  clock_gettime(CLOCK_MONOTONIC, &t1);
  int sink = 0;
  for (int i = 0; i < CHAINS; ++i) sink += _mm256_extract_epi32(acc[i], 0);
  if (sink == 42) puts("");
  return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/* The fastest of three timed runs (after a warm-up), as instructions per second. */
static double per_second(double (*run_once)(long)) {
  const long iterations = 20000000;
  run_once(iterations / 10);
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const double s = run_once(iterations);
    if (s < best) best = s;
  }
  return (double)iterations * CHAINS / best;
}

int main(void) {
  const char* instruction;
  int macs;
  double rate;
  if (__builtin_cpu_supports("avx512vnni")) {
    instruction = "vpdpbusd", macs = 64, rate = per_second(run);
  } else if (__builtin_cpu_supports("avx2")) {
    instruction = "vpmaddwd", macs = 16, rate = per_second(run_avx2);
  } else {
    printf("{\"instruction\": null}\n");
    return 0;
  }
  printf("{\"instruction\": \"%s\", \"macs_per_instruction\": %d, \"instructions_per_s\": %.0f, \"int8_macs_per_s\": %.0f}\n",
         instruction, macs, rate, macs * rate);
  return 0;
}
