// Causal grouped-query self-attention with a key mask, forward and backward, on the CPU.
// Each sequence is computed over the span from its first to its last unmasked token only, so
// moving the padding from one side to the other shifts the work without changing any number.
// Query rows go in blocks, so only the score blocks on or below the diagonal are formed.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include <omp.h>

#include "cpu/blas.h"
#include "ops/math.h"

namespace delta::ops {

// First and one-past-last unmasked position of a sequence's mask row; begin == end if none.
inline void mask_span(const int32_t* mask, int64_t T, int64_t* begin, int64_t* end) {
  int64_t s = 0, e = T;
  while (s < T && mask[s] == 0) s++;
  while (e > s && mask[e - 1] == 0) e--;
  *begin = s;
  *end = e;
}

// Row i of a span (absolute index s + i) may attend to key j when j <= i, the key is unmasked
// and, with a sliding window W > 0, i - j < W.
inline int64_t first_key(int64_t i, int64_t window) {
  return window > 0 ? std::max<int64_t>(0, i - window + 1) : 0;
}

// Query rows are processed in blocks of kRows; a block attends to keys from the first key
// its first row may see up to its last row, so most of the causal half is skipped.
constexpr int64_t kRows = 64;

// Both passes return the floating-point operations of their matrix products.
template <typename F>
double attention_forward(F* att, F* probs, const F* qkv, const int32_t* mask, int64_t B,
                       int64_t T, int64_t NH, int64_t NKV, int64_t HS, int64_t window,
                       int threads) {
  threads = threads_for(B * NH * T * T * HS, threads);
  const int64_t QD = NH * HS, KVD = NKV * HS, QKV = QD + 2 * KVD, group = NH / NKV;
  const F scale = static_cast<F>(1.0 / std::sqrt(static_cast<double>(HS)));
  std::memset(att, 0, sizeof(F) * B * T * QD);
  double flops = 0;

#pragma omp parallel for num_threads(threads) schedule(dynamic) reduction(+ : flops)
  for (int64_t bh = 0; bh < B * NH; bh++) {
    const int64_t b = bh / NH, h = bh % NH, g = h / group;
    int64_t s, e;
    mask_span(mask + b * T, T, &s, &e);
    const int64_t n = e - s;
    if (n == 0) continue;
    const int32_t* m = mask + b * T + s;  // mask of the span

    const F* q = qkv + (b * T + s) * QKV + h * HS;
    const F* k = qkv + (b * T + s) * QKV + QD + g * HS;
    const F* v = qkv + (b * T + s) * QKV + QD + KVD + g * HS;
    F* y = att + (b * T + s) * QD + h * HS;
    F* p = probs + bh * T * T;  // n x n, row stride n; only each block's key range is used
    for (int64_t i0 = 0; i0 < n; i0 += kRows) {
      const int64_t i1 = std::min(n, i0 + kRows), k0 = first_key(i0, window);
      F* pb = p + i0 * n + k0;
      cpu::gemm(false, true, i1 - i0, i1 - k0, HS, scale, q + i0 * QKV, QKV, k + k0 * QKV, QKV,
                F(0), pb, n);

      for (int64_t i = i0; i < i1; i++) {
        F* row = p + i * n;
        const int64_t j0 = first_key(i, window);
        if (m[i] == 0) {
          for (int64_t j = k0; j < i1; j++) row[j] = 0;
          continue;
        }
        F mx = -std::numeric_limits<F>::infinity();
        for (int64_t j = j0; j <= i; j++) {
          if (m[j] != 0 && row[j] > mx) mx = row[j];
        }
        for (int64_t j = j0; j <= i; j++) {
          const F x = fast_exp(row[j] - mx);  // a separate loop so that it vectorizes
          row[j] = m[j] != 0 ? x : F(0);
        }
        double sum = 0;
        for (int64_t j = j0; j <= i; j++) sum += row[j];
        const F inv = static_cast<F>(1.0 / sum);
        for (int64_t j = k0; j < j0; j++) row[j] = 0;
        for (int64_t j = j0; j <= i; j++) row[j] *= inv;
        for (int64_t j = i + 1; j < i1; j++) row[j] = 0;
      }

      cpu::gemm(false, false, i1 - i0, HS, i1 - k0, F(1), pb, n, v + k0 * QKV, QKV, F(0),
                y + i0 * QD, QD);
      flops += 4.0 * static_cast<double>(i1 - i0) * (i1 - k0) * HS;
    }
  }
  return flops;
}

// scratch holds threads * T * T elements (the gradient of the probabilities, per thread).
template <typename F>
double attention_backward(F* dqkv, const F* datt, const F* qkv, F* probs, const int32_t* mask,
                        int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                        int64_t window, F* scratch, int threads) {
  threads = threads_for(B * NH * T * T * HS, threads);
  const int64_t QD = NH * HS, KVD = NKV * HS, QKV = QD + 2 * KVD, group = NH / NKV;
  const F scale = static_cast<F>(1.0 / std::sqrt(static_cast<double>(HS)));
  std::memset(dqkv, 0, sizeof(F) * B * T * QKV);
  double flops = 0;

  // One task per (sequence, kv head): the heads of a group add into the same dk and dv.
#pragma omp parallel for num_threads(threads) schedule(dynamic) reduction(+ : flops)
  for (int64_t bg = 0; bg < B * NKV; bg++) {
    const int64_t b = bg / NKV, g = bg % NKV;
    int64_t s, e;
    mask_span(mask + b * T, T, &s, &e);
    const int64_t n = e - s;
    if (n == 0) continue;
    F* dp = scratch + static_cast<int64_t>(omp_get_thread_num()) * T * T;

    const F* k = qkv + (b * T + s) * QKV + QD + g * HS;
    const F* v = k + KVD;
    F* dk = dqkv + (b * T + s) * QKV + QD + g * HS;
    F* dv = dk + KVD;
    for (int64_t h = g * group; h < (g + 1) * group; h++) {
      const F* q = qkv + (b * T + s) * QKV + h * HS;
      const F* dy = datt + (b * T + s) * QD + h * HS;
      F* dq = dqkv + (b * T + s) * QKV + h * HS;
      F* p = probs + (b * NH + h) * T * T;
      for (int64_t i0 = 0; i0 < n; i0 += kRows) {
        const int64_t i1 = std::min(n, i0 + kRows), k0 = first_key(i0, window);
        const int64_t rows = i1 - i0, keys = i1 - k0;
        F* pb = p + i0 * n + k0;
        F* dpb = dp + i0 * n + k0;

        cpu::gemm(true, false, keys, HS, rows, F(1), pb, n, dy + i0 * QD, QD, F(1),
                  dv + k0 * QKV, QKV);
        cpu::gemm(false, true, rows, keys, HS, F(1), dy + i0 * QD, QD, v + k0 * QKV, QKV, F(0),
                  dpb, n);

        // Softmax backward, in place over the probabilities: ds = p * (dp - sum(p * dp)).
        for (int64_t i = i0; i < i1; i++) {
          F* pr = p + i * n;
          const F* dpr = dp + i * n;
          double dot = 0;
          for (int64_t j = k0; j <= i; j++) dot += static_cast<double>(pr[j]) * dpr[j];
          const F d = static_cast<F>(dot);
          for (int64_t j = k0; j < i1; j++) pr[j] = pr[j] * (dpr[j] - d);
        }

        cpu::gemm(false, false, rows, HS, keys, scale, pb, n, k + k0 * QKV, QKV, F(0),
                  dq + i0 * QKV, QKV);
        cpu::gemm(true, false, keys, HS, rows, scale, pb, n, q + i0 * QKV, QKV, F(1),
                  dk + k0 * QKV, QKV);
        flops += 8.0 * static_cast<double>(rows) * keys * HS;
      }
    }
  }
  return flops;
}

}  // namespace delta::ops
