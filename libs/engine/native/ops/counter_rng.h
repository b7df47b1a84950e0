// The counter-based normal generator behind normal_init, shared by the CPU and CUDA backends
// so that a seed gives the same weights on either device. Element i of a tensor draws from
// (seed, offset + i) alone. No loops or threads here.
#pragma once

#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define DELTA_HOST_DEVICE __host__ __device__
#else
#define DELTA_HOST_DEVICE
#endif

namespace delta::ops {

DELTA_HOST_DEVICE inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in (0, 1) from the top 53 bits.
DELTA_HOST_DEVICE inline double uniform_open(uint64_t bits) {
  return (static_cast<double>(bits >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

// The stream key of a seed.
DELTA_HOST_DEVICE inline uint64_t normal_key(uint64_t seed) {
  return splitmix64(seed ^ 0xD1B54A32D192ED03ull);
}

// A standard normal draw (Box-Muller on two uniforms) for counter `index` of stream `key`.
DELTA_HOST_DEVICE inline double normal_draw(uint64_t key, uint64_t index) {
  const uint64_t c = index * 2;
  const double u1 = uniform_open(splitmix64(key + c));
  const double u2 = uniform_open(splitmix64(key + c + 1));
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

}  // namespace delta::ops
