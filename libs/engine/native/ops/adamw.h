// The AdamW update of one tensor (decoupled weight decay, as in PyTorch's AdamW), and the
// deterministic sum of squares used for the global gradient norm.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "ops/math.h"

namespace delta::ops {

template <typename F>
void adamw_update(F* p, const F* g, F* m, F* v, int64_t n, double lr, double beta1,
                  double beta2, double eps, double weight_decay, double grad_scale, double bc1,
                  double bc2, int threads) {
  threads = threads_for(n, threads);
  const F decay = static_cast<F>(1.0 - lr * weight_decay);
  const F b1 = static_cast<F>(beta1), b2 = static_cast<F>(beta2);
  const F step = static_cast<F>(lr / bc1);
  const F inv_sqrt_bc2 = static_cast<F>(1.0 / std::sqrt(bc2));
  const F e = static_cast<F>(eps), gs = static_cast<F>(grad_scale);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const F gi = g[i] * gs;
    m[i] = b1 * m[i] + (F(1) - b1) * gi;
    v[i] = b2 * v[i] + (F(1) - b2) * gi * gi;
    const F denom = std::sqrt(v[i]) * inv_sqrt_bc2 + e;
    p[i] = p[i] * decay - step * m[i] / denom;
  }
}

// Blocks of a fixed size are summed in double and the block sums added in order, so the
// result is the same for every thread count.
template <typename F>
double sum_squares(const F* x, int64_t n, std::vector<double>& blocks, int threads) {
  threads = threads_for(n, threads);
  constexpr int64_t kBlock = 1 << 14;
  const int64_t nb = (n + kBlock - 1) / kBlock;
  if (static_cast<int64_t>(blocks.size()) < nb) blocks.resize(nb);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t b = 0; b < nb; b++) {
    const int64_t end = std::min(n, (b + 1) * kBlock);
    double s = 0;
    for (int64_t i = b * kBlock; i < end; i++) s += static_cast<double>(x[i]) * x[i];
    blocks[b] = s;
  }
  double total = 0;
  for (int64_t b = 0; b < nb; b++) total += blocks[b];
  return total;
}

}  // namespace delta::ops
