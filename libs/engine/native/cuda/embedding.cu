// Token embedding lookup, forward and backward. The backward adds each row's gradient into
// its token's table row; rows come grouped by token id (a stable sort done by the backend), so
// one block owns a token's row and adds its rows in their original order, with no atomics:
// the sums are deterministic and equal the CPU kernel's order of additions.
#include "cuda/check.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace delta::cuda {

namespace {

__global__ void embedding_forward_kernel(float* out, const int32_t* ids, const float* table,
                                         int64_t N, int64_t C) {
  const int64_t total = N * C;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t n = i / C, c = i % C;
    out[i] = table[static_cast<int64_t>(ids[n]) * C + c];
  }
}

// Block u handles token run_ids[u]: rows order[starts[u] .. starts[u + 1]).
__global__ void embedding_backward_kernel(float* dtable, const float* dout,
                                          const int32_t* order, const int32_t* starts,
                                          const int32_t* run_ids, int64_t U, int64_t C) {
  for (int64_t u = blockIdx.x; u < U; u += gridDim.x) {
    float* row = dtable + static_cast<int64_t>(run_ids[u]) * C;
    const int32_t begin = starts[u], end = starts[u + 1];
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      float acc = row[c];
      for (int32_t k = begin; k < end; k++) acc += dout[static_cast<int64_t>(order[k]) * C + c];
      row[c] = acc;
    }
  }
}

}  // namespace

void embedding_forward(Stream s, float* out, const int32_t* ids, const float* table, int64_t N,
                       int64_t C) {
  if (N <= 0) return;
  embedding_forward_kernel<<<grid_for(N * C), kThreads, 0, s>>>(out, ids, table, N, C);
  check_launch("embedding_forward");
}

void embedding_backward(Stream s, float* dtable, const float* dout, const int32_t* order,
                        const int32_t* starts, const int32_t* run_ids, int64_t U, int64_t C) {
  if (U <= 0) return;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(U, 1 << 16));
  embedding_backward_kernel<<<blocks, kThreads, 0, s>>>(dtable, dout, order, starts, run_ids, U,
                                                       C);
  check_launch("embedding_backward");
}

}  // namespace delta::cuda
