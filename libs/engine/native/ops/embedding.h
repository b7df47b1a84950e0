// Token embedding lookup, forward and backward. The backward scatter-add walks rows in order
// within column slices, so the sum for a token id seen twice is deterministic.
#pragma once

#include <cstdint>
#include <cstring>

#include "ops/math.h"

namespace delta::ops {

template <typename F>
void embedding_forward(F* out, const int32_t* ids, const F* table, int64_t N, int64_t C,
                       int threads) {
  threads = threads_for(N * C, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t n = 0; n < N; n++) {
    std::memcpy(out + n * C, table + static_cast<int64_t>(ids[n]) * C, sizeof(F) * C);
  }
}

template <typename F>
void embedding_backward(F* dtable, const F* dout, const int32_t* ids, int64_t N, int64_t C,
                        int threads) {
  threads = threads_for(N * C, threads);
  const int64_t parts = column_parts(C, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t k = 0; k < parts; k++) {
    int64_t c0, c1;
    split_range(C, parts, k, &c0, &c1);
    for (int64_t n = 0; n < N; n++) {
      F* row = dtable + static_cast<int64_t>(ids[n]) * C;
      const F* g = dout + n * C;
      for (int64_t c = c0; c < c1; c++) row[c] += g[c];
    }
  }
}

}  // namespace delta::ops
