// The SwiGLU gate of the MLP, forward and backward: h = silu(gate) * up, where gate and up
// are the two halves of the fused gate/up projection's output row.
#pragma once

#include <cstdint>

#include "ops/math.h"

namespace delta::ops {

template <typename F>
void swiglu_forward(F* h, const F* gu, int64_t N, int64_t H, int threads) {
  threads = threads_for(N * H, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t n = 0; n < N; n++) {
    const F* g = gu + n * 2 * H;
    const F* u = g + H;
    F* o = h + n * H;
    for (int64_t i = 0; i < H; i++) o[i] = g[i] * sigmoid(g[i]) * u[i];
  }
}

// dgate = dh * up * silu'(gate), silu'(x) = s(x) * (1 + x * (1 - s(x)));  dup = dh * silu(gate).
template <typename F>
void swiglu_backward(F* dgu, const F* dh, const F* gu, int64_t N, int64_t H, int threads) {
  threads = threads_for(N * H, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t n = 0; n < N; n++) {
    const F* g = gu + n * 2 * H;
    const F* u = g + H;
    const F* d = dh + n * H;
    F* dg = dgu + n * 2 * H;
    F* du = dg + H;
    for (int64_t i = 0; i < H; i++) {
      const F s = sigmoid(g[i]);
      du[i] = d[i] * g[i] * s;
      dg[i] = d[i] * u[i] * s * (F(1) + g[i] * (F(1) - s));
    }
  }
}

}  // namespace delta::ops
