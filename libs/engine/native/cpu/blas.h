// Row-major GEMM through CBLAS for float and double. Called from inside an OpenMP region it
// runs on one thread (OpenBLAS's OpenMP build checks omp_in_parallel), outside it uses the
// BLAS thread count. Built with DELTA_ENGINE_NO_BLAS it is a plain loop nest instead: for
// machines without OpenBLAS that only run tiny models on the CPU (the CUDA parity test).
#pragma once

#include <cstdint>

#ifdef DELTA_ENGINE_NO_BLAS

namespace delta::cpu {

// Products accumulate in double; far slower than a BLAS, so only tiny models are practical.
template <typename F>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, F alpha, const F* A, int64_t lda,
          const F* B, int64_t ldb, F beta, F* C, int64_t ldc) {
#pragma omp parallel for schedule(static) if (M * N * K >= (int64_t{1} << 18))
  for (int64_t i = 0; i < M; i++) {
    for (int64_t j = 0; j < N; j++) {
      double acc = 0;
      for (int64_t k = 0; k < K; k++) {
        const double a = ta ? A[k * lda + i] : A[i * lda + k];
        const double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
      }
      F* c = C + i * ldc + j;
      *c = static_cast<F>(alpha * acc + (beta == F(0) ? 0.0 : static_cast<double>(beta) * *c));
    }
  }
}

}  // namespace delta::cpu

#else

#include <cblas.h>

namespace delta::cpu {

inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A,
              static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                 const double* A, int64_t lda, const double* B, int64_t ldb, double beta,
                 double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A,
              static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

}  // namespace delta::cpu

#endif  // DELTA_ENGINE_NO_BLAS
