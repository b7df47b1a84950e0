// RMSNorm, forward and backward: out = x / sqrt(mean(x^2) + eps) * w. The forward keeps the
// per-row reciprocal rms so the backward (and a recomputation of out) need not redo it.
#pragma once

#include <cmath>
#include <cstdint>

#include "ops/math.h"

namespace delta::ops {

template <typename F>
void rmsnorm_forward(F* out, F* rstd, const F* x, const F* w, int64_t N, int64_t C, double eps,
                     int threads) {
  threads = threads_for(N * C, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t n = 0; n < N; n++) {
    const F* xr = x + n * C;
    double ss = 0;
    for (int64_t c = 0; c < C; c++) ss += static_cast<double>(xr[c]) * xr[c];
    const F r = static_cast<F>(1.0 / std::sqrt(ss / C + eps));
    rstd[n] = r;
    F* o = out + n * C;
    for (int64_t c = 0; c < C; c++) o[c] = (xr[c] * r) * w[c];
  }
}

// Recomputes the forward output from the saved rstd (used by the backward pass).
template <typename F>
void rmsnorm_apply(F* out, const F* x, const F* w, const F* rstd, int64_t N, int64_t C,
                   int threads) {
  threads = threads_for(N * C, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t n = 0; n < N; n++) {
    const F* xr = x + n * C;
    const F r = rstd[n];
    F* o = out + n * C;
    for (int64_t c = 0; c < C; c++) o[c] = (xr[c] * r) * w[c];
  }
}

// dx += r * (w*dout - x * r^2 * mean(w*dout*x));  dw += sum over rows of dout * x * r.
template <typename F>
void rmsnorm_backward(F* dx, F* dw, const F* dout, const F* x, const F* w, const F* rstd,
                      int64_t N, int64_t C, int threads) {
  threads = threads_for(N * C, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t n = 0; n < N; n++) {
    const F* xr = x + n * C;
    const F* g = dout + n * C;
    double dot = 0;
    for (int64_t c = 0; c < C; c++) dot += static_cast<double>(w[c]) * g[c] * xr[c];
    const F r = rstd[n];
    const F k = static_cast<F>(dot / C) * r * r;
    F* d = dx + n * C;
    for (int64_t c = 0; c < C; c++) d[c] += r * (w[c] * g[c] - xr[c] * k);
  }

  const int64_t parts = column_parts(C, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t p = 0; p < parts; p++) {
    int64_t c0, c1;
    split_range(C, parts, p, &c0, &c1);
    for (int64_t n = 0; n < N; n++) {
      const F* xr = x + n * C;
      const F* g = dout + n * C;
      const F r = rstd[n];
      for (int64_t c = c0; c < c1; c++) dw[c] += g[c] * xr[c] * r;
    }
  }
}

}  // namespace delta::ops
