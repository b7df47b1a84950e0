// Rotary position embedding (rotate-half convention: dimension i pairs with i + HS/2), applied
// in place to the q and k heads of fused qkv rows; the backward rotates by the negative angle.
#include "cuda/check.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace delta::cuda {

namespace {

// The angle is formed in float and its cosine and sine taken in double, as the CPU does.
__global__ void rope_tables_kernel(float* cos_out, float* sin_out, const int32_t* pos,
                                   const float* inv_freq, int64_t N, int64_t half) {
  const int64_t total = N * half;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float angle = static_cast<float>(pos[i / half]) * inv_freq[i % half];
    cos_out[i] = static_cast<float>(cos(static_cast<double>(angle)));
    sin_out[i] = static_cast<float>(sin(static_cast<double>(angle)));
  }
}

// One thread per (row, head, pair); q heads then k heads are contiguous in a row.
__global__ void rope_rotate_kernel(float* qkv, const float* cos_t, const float* sin_t,
                                   int64_t N, int64_t heads, int64_t HS, int64_t QKV,
                                   float sign) {
  const int64_t half = HS / 2, total = N * heads * half;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t k = i % half, h = (i / half) % heads, n = i / (half * heads);
    float* x = qkv + n * QKV + h * HS;
    const float c = cos_t[n * half + k], si = sign * sin_t[n * half + k];
    const float a = x[k], b = x[k + half];
    x[k] = a * c - b * si;
    x[k + half] = b * c + a * si;
  }
}

}  // namespace

void rope_tables(Stream s, float* cos, float* sin, const int32_t* pos, const float* inv_freq,
                 int64_t N, int64_t half) {
  if (N <= 0 || half <= 0) return;
  rope_tables_kernel<<<grid_for(N * half), kThreads, 0, s>>>(cos, sin, pos, inv_freq, N, half);
  check_launch("rope_tables");
}

void rope_rotate(Stream s, float* qkv, const float* cos, const float* sin, int64_t N,
                 int64_t NH, int64_t NKV, int64_t HS, float sign) {
  const int64_t heads = NH + NKV, QKV = (NH + 2 * NKV) * HS;
  if (N <= 0 || HS < 2) return;
  rope_rotate_kernel<<<grid_for(N * heads * (HS / 2)), kThreads, 0, s>>>(qkv, cos, sin, N,
                                                                          heads, HS, QKV, sign);
  check_launch("rope_rotate");
}

}  // namespace delta::cuda
