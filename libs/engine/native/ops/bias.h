// Bias of a linear layer, forward (add to each row) and backward (column sums in row order).
#pragma once

#include <cstdint>

#include "ops/math.h"

namespace delta::ops {

template <typename F>
void bias_forward(F* x, const F* b, int64_t N, int64_t M, int threads) {
  threads = threads_for(N * M, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t n = 0; n < N; n++) {
    F* row = x + n * M;
    for (int64_t m = 0; m < M; m++) row[m] += b[m];
  }
}

template <typename F>
void bias_backward(F* db, const F* dout, int64_t N, int64_t M, int threads) {
  threads = threads_for(N * M, threads);
  const int64_t parts = column_parts(M, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t p = 0; p < parts; p++) {
    int64_t m0, m1;
    split_range(M, parts, p, &m0, &m1);
    for (int64_t n = 0; n < N; n++) {
      const F* row = dout + n * M;
      for (int64_t m = m0; m < m1; m++) db[m] += row[m];
    }
  }
}

}  // namespace delta::ops
