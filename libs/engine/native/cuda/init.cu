// Random normal initialisation on the device with the generator of ops/counter_rng.h: the same
// seed and offsets give the CPU backend's weights (up to the last bit of a double's log/cos).
#include "cuda/check.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "ops/counter_rng.h"

namespace delta::cuda {

namespace {

__global__ void normal_init_kernel(float* x, int64_t n, double std_dev, uint64_t key,
                                   uint64_t offset) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    x[i] = static_cast<float>(ops::normal_draw(key, offset + static_cast<uint64_t>(i)) * std_dev);
  }
}

}  // namespace

void normal_init(Stream s, float* x, int64_t n, double std_dev, uint64_t seed,
                 uint64_t offset) {
  if (n <= 0) return;
  normal_init_kernel<<<grid_for(n), kThreads, 0, s>>>(x, n, std_dev, ops::normal_key(seed),
                                                       offset);
  check_launch("normal_init");
}

}  // namespace delta::cuda
