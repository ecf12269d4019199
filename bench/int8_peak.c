/* This core's int8 multiply-accumulate peak, measured: AVX-512 VNNI's vpdpbusd does 64 u8 x s8
   products summed into 16 int32 lanes per instruction, so
       peak MAC/s = 64 x (vpdpbusd issued per cycle) x (cycles per second),
   and the product of the last two is what this loop measures: 16 independent accumulator chains
   (more than latency x ports) keep every port that takes vpdpbusd busy.
   Prints one JSON object. */
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

int main(void) {
  if (!__builtin_cpu_supports("avx512vnni")) {
    printf("{\"vnni\": false}\n");
    return 0;
  }
  const long iterations = 20000000;
  run(iterations / 10);
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const double s = run(iterations);
    if (s < best) best = s;
  }
  const double instructions_per_s = (double)iterations * CHAINS / best;
  printf("{\"vnni\": true, \"vpdpbusd_per_s\": %.0f, \"int8_macs_per_s\": %.0f}\n", instructions_per_s, 64.0 * instructions_per_s);
  return 0;
}
