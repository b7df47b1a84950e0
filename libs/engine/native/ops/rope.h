// Rotary position embedding in the rotate-half convention (dimension i paired with
// i + HS/2), forward and backward, applied in place to the q and k parts of fused qkv rows.
#pragma once

#include <cmath>
#include <cstdint>

#include "ops/math.h"

namespace delta::ops {

// cos/sin[N, half] for each row's position; the angle is formed in the compute type, as the
// reference implementations do.
template <typename F>
void rope_tables(F* cos_out, F* sin_out, const int32_t* pos, const F* inv_freq, int64_t N,
                 int64_t half, int threads) {
  threads = threads_for(N * half, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t n = 0; n < N; n++) {
    for (int64_t i = 0; i < half; i++) {
      const F angle = static_cast<F>(pos[n]) * inv_freq[i];
      cos_out[n * half + i] = static_cast<F>(std::cos(static_cast<double>(angle)));
      sin_out[n * half + i] = static_cast<F>(std::sin(static_cast<double>(angle)));
    }
  }
}

// sign = +1 rotates by the angle (forward); sign = -1 by its negative (the backward, since
// the rotation is orthogonal its transpose is its inverse).
template <typename F>
void rope_rotate(F* qkv, const F* cos_t, const F* sin_t, int64_t N, int64_t NH, int64_t NKV,
                 int64_t HS, F sign, int threads) {
  threads = threads_for(N * (NH + NKV) * HS, threads);
  const int64_t half = HS / 2;
  const int64_t QKV = (NH + 2 * NKV) * HS;
  const int64_t heads = NH + NKV;  // q heads then k heads are contiguous in a row
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t n = 0; n < N; n++) {
    const F* c = cos_t + n * half;
    const F* s = sin_t + n * half;
    for (int64_t h = 0; h < heads; h++) {
      F* x = qkv + n * QKV + h * HS;
      for (int64_t i = 0; i < half; i++) {
        const F a = x[i], b = x[i + half], si = sign * s[i];
        x[i] = a * c[i] - b * si;
        x[i + half] = b * c[i] + a * si;
      }
    }
  }
}

}  // namespace delta::ops
