// Random normal initialisation from a counter-based generator: element i of a tensor gets a
// draw that depends only on (seed, offset + i), so the result ignores the thread count.
#pragma once

#include <cmath>
#include <cstdint>

#include "ops/math.h"

namespace delta::ops {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in (0, 1) from the top 53 bits.
inline double uniform_open(uint64_t bits) {
  return (static_cast<double>(bits >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

template <typename F>
void normal_init(F* x, int64_t n, double std_dev, uint64_t seed, uint64_t offset, int threads) {
  threads = threads_for(n, threads);
  const uint64_t key = splitmix64(seed ^ 0xD1B54A32D192ED03ull);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const uint64_t c = (offset + static_cast<uint64_t>(i)) * 2;
    const double u1 = uniform_open(splitmix64(key + c));
    const double u2 = uniform_open(splitmix64(key + c + 1));
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
    x[i] = static_cast<F>(z * std_dev);
  }
}

}  // namespace delta::ops
