// Random normal initialisation from a counter-based generator: element i of a tensor gets a
// draw that depends only on (seed, offset + i), so the result ignores the thread count.
#pragma once

#include <cmath>
#include <cstdint>

#include "ops/counter_rng.h"
#include "ops/math.h"

namespace delta::ops {

template <typename F>
void normal_init(F* x, int64_t n, double std_dev, uint64_t seed, uint64_t offset, int threads) {
  threads = threads_for(n, threads);
  const uint64_t key = normal_key(seed);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    x[i] = static_cast<F>(normal_draw(key, offset + static_cast<uint64_t>(i)) * std_dev);
  }
}

}  // namespace delta::ops
