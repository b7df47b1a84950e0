// Token log-probs over a chunk of logits [R, V], forward and backward, one row per block. The
// forward is a fused gather: one pass over the row keeps a running max and a rescaled sum of
// exponentials (online softmax), then picks the target's logit; no softmax is written. The
// backward turns the logits into their gradient in place. All in float.
#include "cuda/check.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace delta::cuda {

namespace {

// A running max m and the sum s of exp(x - m) over the values seen.
struct MaxSum {
  float m, s;
};

__device__ inline MaxSum merge(MaxSum a, MaxSum b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return {m, 0.0f};
  return {m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}

__device__ inline MaxSum warp_merge(MaxSum v) {
  for (int o = 16; o > 0; o >>= 1) {
    const MaxSum other{__shfl_xor_sync(kFullMask, v.m, o), __shfl_xor_sync(kFullMask, v.s, o)};
    v = merge(v, other);
  }
  return v;
}

__global__ void logprob_forward_kernel(float* logp, float* lse, const float* logits,
                                       const int32_t* targets, int64_t R, int64_t V) {
  __shared__ float shared_m[32], shared_s[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* x = logits + r * V;
    MaxSum acc{-INFINITY, 0.0f};
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
      const float v = x[j];
      if (v > acc.m) {
        acc.s = acc.s * expf(acc.m - v) + 1.0f;
        acc.m = v;
      } else {
        acc.s += expf(v - acc.m);
      }
    }
    acc = warp_merge(acc);
    __syncthreads();  // the shared arrays may still be read for the previous row
    if (lane == 0) {
      shared_m[warp] = acc.m;
      shared_s[warp] = acc.s;
    }
    __syncthreads();
    acc = lane < static_cast<int>(blockDim.x >> 5) ? MaxSum{shared_m[lane], shared_s[lane]}
                                                    : MaxSum{-INFINITY, 0.0f};
    acc = warp_merge(acc);
    if (threadIdx.x == 0) {
      const float l = acc.m + logf(acc.s);
      lse[r] = l;
      logp[r] = x[targets[r]] - l;
    }
  }
}

// logits[r, j] becomes dlogp[r] * (onehot(targets[r])[j] - softmax(logits[r])[j]).
__global__ void logprob_backward_kernel(float* logits, const float* lse, const int32_t* targets,
                                        const float* dlogp, int64_t R, int64_t V) {
  const int64_t total = R * V;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / V, j = i % V;
    const float d = dlogp[r];
    float g = -d * expf(logits[i] - lse[r]);
    if (j == targets[r]) g += d;
    logits[i] = g;
  }
}

}  // namespace

void logprob_forward(Stream s, float* logp, float* lse, const float* logits,
                     const int32_t* targets, int64_t R, int64_t V) {
  if (R <= 0) return;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(R, 1 << 16));
  logprob_forward_kernel<<<blocks, kThreads, 0, s>>>(logp, lse, logits, targets, R, V);
  check_launch("logprob_forward");
}

void logprob_backward(Stream s, float* logits, const float* lse, const int32_t* targets,
                      const float* dlogp, int64_t R, int64_t V) {
  if (R <= 0) return;
  logprob_backward_kernel<<<grid_for(R * V), kThreads, 0, s>>>(logits, lse, targets, dlogp, R,
                                                                V);
  check_launch("logprob_backward");
}

}  // namespace delta::cuda
