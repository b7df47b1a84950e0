// Row gather and its adjoint scatter: the lm head reads only the rows that have a target, and
// the backward puts their gradients back in place. Rows not named are left untouched.
#include "cuda/check.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace delta::cuda {

namespace {

// One element per thread of the R x C selection; kGather picks the direction.
template <bool kGather>
__global__ void move_rows_kernel(float* dst, const float* src, const int32_t* rows, int64_t R,
                                 int64_t C) {
  const int64_t total = R * C;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / C, c = i % C;
    const int64_t other = static_cast<int64_t>(rows[r]) * C + c;
    if (kGather) {
      dst[i] = src[other];
    } else {
      dst[other] = src[i];
    }
  }
}

}  // namespace

void gather_rows(Stream s, float* dst, const float* src, const int32_t* rows, int64_t R,
                 int64_t C) {
  if (R <= 0 || C <= 0) return;
  move_rows_kernel<true><<<grid_for(R * C), kThreads, 0, s>>>(dst, src, rows, R, C);
  check_launch("gather_rows");
}

void scatter_rows(Stream s, float* dst, const float* src, const int32_t* rows, int64_t R,
                  int64_t C) {
  if (R <= 0 || C <= 0) return;
  move_rows_kernel<false><<<grid_for(R * C), kThreads, 0, s>>>(dst, src, rows, R, C);
  check_launch("scatter_rows");
}

}  // namespace delta::cuda
