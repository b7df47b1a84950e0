// The fused AdamW update of one tensor (decoupled weight decay, as PyTorch's AdamW), which also
// refreshes the bfloat16 copy of the weights the matrix products read; and the deterministic
// sum of squares behind the global gradient norm (fixed segments, summed in double).
#include <cuda_bf16.h>

#include "cuda/check.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace delta::cuda {

namespace {

constexpr int64_t kSquaresSegment = int64_t{1} << 16;

__global__ void adamw_kernel(float* p, const float* g, float* m, float* v,
                             __nv_bfloat16* shadow, int64_t n, AdamwStep st) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float gi = g[i] * st.grad_scale;
    const float mi = st.beta1 * m[i] + (1.0f - st.beta1) * gi;
    const float vi = st.beta2 * v[i] + (1.0f - st.beta2) * gi * gi;
    const float denom = sqrtf(vi) * st.inv_sqrt_bc2 + st.eps;
    const float pi = p[i] * st.decay - st.step * mi / denom;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi;
    if (shadow != nullptr) shadow[i] = __float2bfloat16_rn(pi);
  }
}

// Block k sums the squares of segment k into partial[k].
__global__ void squares_partial_kernel(double* partial, const float* x, int64_t n) {
  __shared__ double shared[32];
  const int64_t begin = blockIdx.x * kSquaresSegment;
  const int64_t end = min(n, begin + kSquaresSegment);
  double acc = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    acc += static_cast<double>(x[i]) * x[i];
  }
  acc = block_sum(acc, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void squares_total_kernel(double* out, const double* partial, int64_t segments) {
  __shared__ double shared[32];
  double acc = 0;
  for (int64_t k = threadIdx.x; k < segments; k += blockDim.x) acc += partial[k];
  acc = block_sum(acc, shared);
  if (threadIdx.x == 0) *out = acc;
}

}  // namespace

void adamw_update(Stream s, float* p, const float* g, float* m, float* v, Bf16* shadow,
                  int64_t n, const AdamwStep& step) {
  if (n <= 0) return;
  adamw_kernel<<<grid_for(n), kThreads, 0, s>>>(p, g, m, v,
                                                reinterpret_cast<__nv_bfloat16*>(shadow), n,
                                                step);
  check_launch("adamw_update");
}

int64_t sum_squares_partials(int64_t n) {
  return std::max<int64_t>(1, (n + kSquaresSegment - 1) / kSquaresSegment);
}

void sum_squares(Stream s, double* out, double* partial, const float* x, int64_t n) {
  const int64_t segments = sum_squares_partials(n);
  if (n > 0) {
    squares_partial_kernel<<<static_cast<unsigned>(segments), kThreads, 0, s>>>(partial, x, n);
    check_launch("sum_squares");
  } else {
    check(cudaMemsetAsync(partial, 0, sizeof(double), s), "cudaMemsetAsync");
  }
  squares_total_kernel<<<1, kThreads, 0, s>>>(out, partial, segments);
  check_launch("sum_squares (total)");
}

}  // namespace delta::cuda
