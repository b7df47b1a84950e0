// Scalar helpers shared by the CPU kernels: an exp that the compiler can vectorize, and the
// column partition used for deterministic parallel reductions. No kernels live here.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace delta::ops {

// exp for float, relative error below 1e-7 over [-87, 88] (a Cephes-style polynomial), written
// branch-free so loops over it vectorize; inputs are clamped to [-87.3, 88.3], so exp of a
// very negative number is about 1e-38 rather than 0. Doubles use std::exp.
inline float fast_exp(float x) {
  x = std::min(std::max(x, -87.3f), 88.3f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

inline double fast_exp(double x) { return std::exp(x); }

template <typename F>
inline F sigmoid(F x) {
  return F(1) / (F(1) + fast_exp(-x));
}

// Threads worth starting for `work` elements: below a few tens of thousands the fork and join
// cost more than the loop. No kernel's result depends on its thread count, so this is free.
inline int threads_for(int64_t work, int threads) {
  return work >= (int64_t{1} << 15) ? threads : 1;
}

// Splits [0, n) into `parts` contiguous ranges; returns range k as [begin, end).
inline void split_range(int64_t n, int64_t parts, int64_t k, int64_t* begin, int64_t* end) {
  const int64_t base = n / parts, extra = n % parts;
  *begin = k * base + std::min(k, extra);
  *end = *begin + base + (k < extra ? 1 : 0);
}

// Column slices for reductions over rows: each thread owns whole columns and walks the rows
// in order, so a column sum never depends on the thread count.
inline int64_t column_parts(int64_t C, int threads) {
  return std::max<int64_t>(1, std::min<int64_t>(threads, C / 16 > 0 ? C / 16 : 1));
}

}  // namespace delta::ops
