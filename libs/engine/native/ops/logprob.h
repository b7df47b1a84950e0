// Token log-probabilities from logits, forward and backward (log-softmax picked at the target
// token). Sums of exponentials run over 16 fixed lanes and are combined in double, so the
// result is stable for large vocabularies and identical for any thread count.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "ops/math.h"

namespace delta::ops {

constexpr int kLanes = 16;

template <typename F>
F row_max(const F* x, int64_t V) {
  F lanes[kLanes];
  for (int k = 0; k < kLanes; k++) lanes[k] = -std::numeric_limits<F>::infinity();
  int64_t j = 0;
  for (; j + kLanes <= V; j += kLanes) {
    for (int k = 0; k < kLanes; k++) lanes[k] = std::max(lanes[k], x[j + k]);
  }
  F m = -std::numeric_limits<F>::infinity();
  for (int k = 0; k < kLanes; k++) m = std::max(m, lanes[k]);
  for (; j < V; j++) m = std::max(m, x[j]);
  return m;
}

template <typename F>
double row_sum_exp(const F* x, int64_t V, F shift) {
  F lanes[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= V; j += kLanes) {
    for (int k = 0; k < kLanes; k++) lanes[k] += fast_exp(x[j + k] - shift);
  }
  double sum = 0;
  for (int k = 0; k < kLanes; k++) sum += lanes[k];
  for (; j < V; j++) sum += fast_exp(x[j] - shift);
  return sum;
}

template <typename F>
void logprob_forward(F* logp, F* lse, const F* logits, const int32_t* targets, int64_t R,
                     int64_t V, int threads) {
  threads = threads_for(R * V, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < R; r++) {
    const F* x = logits + r * V;
    const F m = row_max(x, V);
    const double l = static_cast<double>(m) + std::log(row_sum_exp(x, V, m));
    lse[r] = static_cast<F>(l);
    logp[r] = static_cast<F>(static_cast<double>(x[targets[r]]) - l);
  }
}

template <typename F>
void logprob_backward(F* logits, const F* lse, const int32_t* targets, const F* dlogp,
                      int64_t R, int64_t V, int threads) {
  threads = threads_for(R * V, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < R; r++) {
    F* x = logits + r * V;
    const F l = lse[r], d = dlogp[r];
    for (int64_t j = 0; j < V; j++) x[j] = -d * fast_exp(x[j] - l);
    x[targets[r]] += d;
  }
}

}  // namespace delta::ops
