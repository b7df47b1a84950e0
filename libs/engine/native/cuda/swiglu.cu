// The SwiGLU gate of the MLP, forward and backward: h = silu(gate) * up, where gate and up are
// the two halves of the fused gate/up product's row. Accurate expf (no fast-math), as the
// CPU's exp is accurate to float rounding.
#include "cuda/check.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace delta::cuda {

namespace {

__device__ inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

__global__ void swiglu_forward_kernel(float* h, const float* gu, int64_t N, int64_t H) {
  const int64_t total = N * H;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t n = i / H, k = i % H;
    const float g = gu[n * 2 * H + k], u = gu[n * 2 * H + H + k];
    h[i] = g * sigmoid(g) * u;
  }
}

// dgate = dh * up * s * (1 + gate * (1 - s)), dup = dh * gate * s, s = sigmoid(gate).
__global__ void swiglu_backward_kernel(float* dgu, const float* dh, const float* gu, int64_t N,
                                       int64_t H) {
  const int64_t total = N * H;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t n = i / H, k = i % H;
    const float g = gu[n * 2 * H + k], u = gu[n * 2 * H + H + k], d = dh[i];
    const float s = sigmoid(g);
    dgu[n * 2 * H + H + k] = d * g * s;
    dgu[n * 2 * H + k] = d * u * s * (1.0f + g * (1.0f - s));
  }
}

}  // namespace

void swiglu_forward(Stream s, float* h, const float* gu, int64_t N, int64_t H) {
  if (N <= 0 || H <= 0) return;
  swiglu_forward_kernel<<<grid_for(N * H), kThreads, 0, s>>>(h, gu, N, H);
  check_launch("swiglu_forward");
}

void swiglu_backward(Stream s, float* dgu, const float* dh, const float* gu, int64_t N,
                     int64_t H) {
  if (N <= 0 || H <= 0) return;
  swiglu_backward_kernel<<<grid_for(N * H), kThreads, 0, s>>>(dgu, dh, gu, N, H);
  check_launch("swiglu_backward");
}

}  // namespace delta::cuda
