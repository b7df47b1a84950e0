// Causal grouped-query self-attention with a key mask, forward and backward, on the CPU.
// Each sequence is computed over the span from its first to its last unmasked token only, so
// moving the padding from one side to the other shifts the work without changing any number.
// The full score matrix of that span is formed (the causal half is wasted work), not tiled.
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

template <typename F>
void attention_forward(F* att, F* probs, const F* qkv, const int32_t* mask, int64_t B,
                       int64_t T, int64_t NH, int64_t NKV, int64_t HS, int64_t window,
                       int threads) {
  const int64_t QD = NH * HS, KVD = NKV * HS, QKV = QD + 2 * KVD, group = NH / NKV;
  const F scale = static_cast<F>(1.0 / std::sqrt(static_cast<double>(HS)));
  std::memset(att, 0, sizeof(F) * B * T * QD);

#pragma omp parallel for num_threads(threads) schedule(dynamic)
  for (int64_t bh = 0; bh < B * NH; bh++) {
    const int64_t b = bh / NH, h = bh % NH, g = h / group;
    const int32_t* m = mask + b * T;
    int64_t s, e;
    mask_span(m, T, &s, &e);
    const int64_t n = e - s;
    if (n == 0) continue;

    const F* q = qkv + (b * T + s) * QKV + h * HS;
    const F* k = qkv + (b * T + s) * QKV + QD + g * HS;
    const F* v = qkv + (b * T + s) * QKV + QD + KVD + g * HS;
    F* p = probs + bh * T * T;  // n x n, row stride n
    cpu::gemm(false, true, n, n, HS, scale, q, QKV, k, QKV, F(0), p, n);

    for (int64_t i = 0; i < n; i++) {
      F* row = p + i * n;
      if (m[s + i] == 0) {
        std::memset(row, 0, sizeof(F) * n);
        continue;
      }
      const int64_t j0 = first_key(i, window);
      F mx = -std::numeric_limits<F>::infinity();
      for (int64_t j = j0; j <= i; j++) {
        if (m[s + j] != 0 && row[j] > mx) mx = row[j];
      }
      double sum = 0;
      for (int64_t j = j0; j <= i; j++) {
        const F x = m[s + j] != 0 ? fast_exp(row[j] - mx) : F(0);
        row[j] = x;
        sum += x;
      }
      const F inv = static_cast<F>(1.0 / sum);
      for (int64_t j = 0; j < j0; j++) row[j] = 0;
      for (int64_t j = j0; j <= i; j++) row[j] *= inv;
      for (int64_t j = i + 1; j < n; j++) row[j] = 0;
    }

    cpu::gemm(false, false, n, HS, n, F(1), p, n, v, QKV, F(0), att + (b * T + s) * QD + h * HS,
              QD);
  }
}

// scratch holds threads * T * T elements (the gradient of the probabilities, per thread).
template <typename F>
void attention_backward(F* dqkv, const F* datt, const F* qkv, F* probs, const int32_t* mask,
                        int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                        int64_t window, F* scratch, int threads) {
  (void)window;  // the probabilities already carry the window (zeros outside it)
  const int64_t QD = NH * HS, KVD = NKV * HS, QKV = QD + 2 * KVD, group = NH / NKV;
  const F scale = static_cast<F>(1.0 / std::sqrt(static_cast<double>(HS)));
  std::memset(dqkv, 0, sizeof(F) * B * T * QKV);

  // One task per (sequence, kv head): the heads of a group add into the same dk and dv.
#pragma omp parallel for num_threads(threads) schedule(dynamic)
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

      cpu::gemm(true, false, n, HS, n, F(1), p, n, dy, QD, F(1), dv, QKV);
      cpu::gemm(false, true, n, n, HS, F(1), dy, QD, v, QKV, F(0), dp, n);

      // Softmax backward, in place over the probabilities: ds = p * (dp - sum(p * dp)).
      for (int64_t i = 0; i < n; i++) {
        F* pr = p + i * n;
        const F* dpr = dp + i * n;
        double dot = 0;
        for (int64_t j = 0; j <= i; j++) dot += static_cast<double>(pr[j]) * dpr[j];
        const F d = static_cast<F>(dot);
        for (int64_t j = 0; j <= i; j++) pr[j] = pr[j] * (dpr[j] - d);
      }

      cpu::gemm(false, false, n, HS, n, scale, p, n, k, QKV, F(0), dq, QKV);
      cpu::gemm(true, false, n, HS, n, scale, p, n, q, QKV, F(1), dk, QKV);
    }
  }
}

}  // namespace delta::ops
