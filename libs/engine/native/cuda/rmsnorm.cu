// RMSNorm, forward and backward: out = x / sqrt(mean(x^2) + eps) * w, one block per row. The
// forward keeps the per-row reciprocal rms; the weight gradient is a deterministic column sum.
#include "cuda/check.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace delta::cuda {

namespace {

__global__ void rmsnorm_forward_kernel(float* out, float* rstd, const float* x, const float* w,
                                       int64_t N, int64_t C, double eps) {
  __shared__ float shared[32];
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const float* xr = x + n * C;
    float ss = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) ss += xr[c] * xr[c];
    ss = block_sum(ss, shared);
    const float r = static_cast<float>(1.0 / sqrt(static_cast<double>(ss) / C + eps));
    if (threadIdx.x == 0) rstd[n] = r;
    float* o = out + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) o[c] = (xr[c] * r) * w[c];
  }
}

__global__ void rmsnorm_apply_kernel(float* out, const float* x, const float* w,
                                     const float* rstd, int64_t N, int64_t C) {
  const int64_t total = N * C;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    out[i] = (x[i] * rstd[i / C]) * w[i % C];
  }
}

// dx += r * (w*dout - x * r^2 * mean(w*dout*x)), one block per row.
__global__ void rmsnorm_backward_kernel(float* dx, const float* dout, const float* x,
                                        const float* w, const float* rstd, int64_t N,
                                        int64_t C) {
  __shared__ float shared[32];
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const float* xr = x + n * C;
    const float* g = dout + n * C;
    float dot = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) dot += w[c] * g[c] * xr[c];
    dot = block_sum(dot, shared);
    const float r = rstd[n];
    const float k = (dot / static_cast<float>(C)) * r * r;
    float* d = dx + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) d[c] += r * (w[c] * g[c] - xr[c] * k);
  }
}

// dw[c] += sum over rows of dout * x * rstd.
struct WeightGradient {
  const float *dout, *x, *rstd;
  int64_t C;
  __device__ float operator()(int64_t n, int64_t c) const {
    return dout[n * C + c] * x[n * C + c] * rstd[n];
  }
};

unsigned row_blocks(int64_t N) {
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(N, 1), 1 << 16));
}

}  // namespace

void rmsnorm_forward(Stream s, float* out, float* rstd, const float* x, const float* w,
                     int64_t N, int64_t C, double eps) {
  if (N <= 0) return;
  rmsnorm_forward_kernel<<<row_blocks(N), kThreads, 0, s>>>(out, rstd, x, w, N, C, eps);
  check_launch("rmsnorm_forward");
}

void rmsnorm_apply(Stream s, float* out, const float* x, const float* w, const float* rstd,
                   int64_t N, int64_t C) {
  if (N <= 0) return;
  rmsnorm_apply_kernel<<<grid_for(N * C), kThreads, 0, s>>>(out, x, w, rstd, N, C);
  check_launch("rmsnorm_apply");
}

void rmsnorm_backward(Stream s, float* dx, float* dw, const float* dout, const float* x,
                      const float* w, const float* rstd, int64_t N, int64_t C, float* partial) {
  if (N <= 0) return;
  rmsnorm_backward_kernel<<<row_blocks(N), kThreads, 0, s>>>(dx, dout, x, w, rstd, N, C);
  check_launch("rmsnorm_backward");
  column_sums(s, dw, partial, N, C, WeightGradient{dout, x, rstd, C});
  check_launch("rmsnorm_backward (weight)");
}

}  // namespace delta::cuda
