// Bias of a linear layer, forward (added to each row) and backward (deterministic column sums
// of the output gradient).
#include "cuda/check.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace delta::cuda {

namespace {

__global__ void bias_forward_kernel(float* x, const float* b, int64_t N, int64_t M) {
  const int64_t total = N * M;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    x[i] += b[i % M];
  }
}

struct OutputGradient {
  const float* dout;
  int64_t M;
  __device__ float operator()(int64_t n, int64_t m) const { return dout[n * M + m]; }
};

}  // namespace

void bias_forward(Stream s, float* x, const float* b, int64_t N, int64_t M) {
  if (N <= 0 || M <= 0) return;
  bias_forward_kernel<<<grid_for(N * M), kThreads, 0, s>>>(x, b, N, M);
  check_launch("bias_forward");
}

void bias_backward(Stream s, float* db, const float* dout, int64_t N, int64_t M,
                   float* partial) {
  column_sums(s, db, partial, N, M, OutputGradient{dout, M});
  check_launch("bias_backward");
}

}  // namespace delta::cuda
