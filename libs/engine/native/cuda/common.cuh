// Helpers shared by the CUDA kernels: launch sizes, and warp and block reductions whose order
// is fixed (so every kernel built on them is deterministic). No kernels live here.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace delta::cuda {

constexpr int kThreads = 256;
constexpr unsigned kFullMask = 0xffffffffu;

// Blocks for a grid-stride loop over n items: enough to fill the device, capped so the grid
// stays legal for any n (the loop covers the rest).
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(blocks, 1), 1 << 16));
}

// Butterfly reductions: every lane ends with the same value, summed in the same order.
template <typename T>
__device__ inline T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// The total of v over a block whose size is a multiple of 32; every thread gets it. shared
// holds 32 values; the call synchronises the block, so all threads must reach it.
template <typename T>
__device__ inline T block_sum(T v, T* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // shared may still be read from a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < static_cast<int>(blockDim.x >> 5) ? shared[lane] : T(0);
  return warp_sum(v);
}

__device__ inline float block_max(float v, float* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < static_cast<int>(blockDim.x >> 5) ? shared[lane] : -INFINITY;
  return warp_max(v);
}

// Deterministic column sums: out[c] += sum over rows n < N of value(n, c). Rows are summed
// in fixed segments of kSegmentRows (stage one, into partial[segments, C]), then the segments
// in order (stage two). partial holds column_partial_elements(N, C) floats.
constexpr int64_t kSegmentRows = 256;

inline int64_t column_partial_elements(int64_t N, int64_t C) {
  return (N + kSegmentRows - 1) / kSegmentRows * C;
}

template <typename Value>
__global__ void column_partials_kernel(float* partial, int64_t N, int64_t C, Value value) {
  __shared__ float sums[8][33];
  const int64_t c = blockIdx.x * 32 + threadIdx.x;
  const int64_t n0 = blockIdx.y * kSegmentRows, n1 = min(N, n0 + kSegmentRows);
  float acc = 0;
  if (c < C) {
    for (int64_t n = n0 + threadIdx.y; n < n1; n += 8) acc += value(n, c);
  }
  sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    float total = 0;
    for (int k = 0; k < 8; k++) total += sums[k][threadIdx.x];
    partial[blockIdx.y * C + c] = total;
  }
}

static __global__ void column_finish_kernel(float* out, const float* partial, int64_t segments,
                                           int64_t C) {
  for (int64_t c = blockIdx.x * blockDim.x + threadIdx.x; c < C;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float total = 0;
    for (int64_t s = 0; s < segments; s++) total += partial[s * C + c];
    out[c] += total;
  }
}

template <typename Value>
void column_sums(cudaStream_t stream, float* out, float* partial, int64_t N, int64_t C,
                 Value value) {
  if (N <= 0 || C <= 0) return;
  const int64_t segments = (N + kSegmentRows - 1) / kSegmentRows;
  const dim3 grid(static_cast<unsigned>((C + 31) / 32), static_cast<unsigned>(segments));
  column_partials_kernel<<<grid, dim3(32, 8), 0, stream>>>(partial, N, C, value);
  column_finish_kernel<<<grid_for(C), kThreads, 0, stream>>>(out, partial, segments, C);
}

}  // namespace delta::cuda
