// CpuBackend: forwards each Backend call to its kernel in ops/ with the thread count.
#include "cpu/cpu_backend.h"

#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"
#include "cpu/blas.h"
#include "ops/adamw.h"
#include "ops/attention.h"
#include "ops/bias.h"
#include "ops/embedding.h"
#include "ops/init.h"
#include "ops/logprob.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"

#ifndef DELTA_ENGINE_NO_BLAS
extern "C" void openblas_set_num_threads(int);
#endif

namespace delta::cpu {

template <typename F>
CpuBackend<F>::CpuBackend(int threads) : threads_(threads > 0 ? threads : 1) {}

template <typename F>
CpuBackend<F>::~CpuBackend() = default;

template <typename F>
void* CpuBackend<F>::alloc(size_t bytes) {
  // 64-byte alignment for vector loads; the size is rounded up as aligned_alloc requires.
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr) {
    fail(ErrorCode::kOutOfMemory, "cannot allocate " + std::to_string(bytes >> 20) + " MiB");
  }
  return p;
}

template <typename F>
void CpuBackend<F>::release(void* ptr) {
  std::free(ptr);
}

template <typename F>
void CpuBackend<F>::upload(void* dst, const void* src, size_t bytes) {
  std::memcpy(dst, src, bytes);
}

template <typename F>
void CpuBackend<F>::download(void* dst, const void* src, size_t bytes) {
  std::memcpy(dst, src, bytes);
}

template <typename F>
void CpuBackend<F>::zero(void* dst, size_t bytes) {
  std::memset(dst, 0, bytes);
}

template <typename F>
void CpuBackend<F>::copy(void* dst, const void* src, size_t bytes) {
  std::memmove(dst, src, bytes);
}

template <typename F>
void CpuBackend<F>::set_threads(int threads) {
  threads_ = threads > 0 ? threads : 1;
}

template <typename F>
void CpuBackend<F>::enter() {
  // Both settings are per calling thread in OpenMP, so they are renewed on every entry.
  omp_set_num_threads(threads_);
#ifndef DELTA_ENGINE_NO_BLAS
  openblas_set_num_threads(threads_);
#endif
}

template <typename F>
void CpuBackend<F>::matmul(bool ta, bool tb, int64_t M, int64_t N, int64_t K, F alpha,
                           const F* A, int64_t lda, const F* B, int64_t ldb, F beta, F* C,
                           int64_t ldc) {
  flops_ += 2.0 * static_cast<double>(M) * N * K;
  gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <typename F>
void CpuBackend<F>::embedding_forward(F* out, const int32_t* ids, const F* table, int64_t N,
                                      int64_t C) {
  ops::embedding_forward(out, ids, table, N, C, threads_);
}

template <typename F>
void CpuBackend<F>::embedding_backward(F* dtable, const F* dout, const int32_t* ids, int64_t N,
                                       int64_t C) {
  ops::embedding_backward(dtable, dout, ids, N, C, threads_);
}

template <typename F>
void CpuBackend<F>::rmsnorm_forward(F* out, F* rstd, const F* x, const F* w, int64_t N,
                                    int64_t C, double eps) {
  ops::rmsnorm_forward(out, rstd, x, w, N, C, eps, threads_);
}

template <typename F>
void CpuBackend<F>::rmsnorm_apply(F* out, const F* x, const F* w, const F* rstd, int64_t N,
                                  int64_t C) {
  ops::rmsnorm_apply(out, x, w, rstd, N, C, threads_);
}

template <typename F>
void CpuBackend<F>::rmsnorm_backward(F* dx, F* dw, const F* dout, const F* x, const F* w,
                                     const F* rstd, int64_t N, int64_t C) {
  ops::rmsnorm_backward(dx, dw, dout, x, w, rstd, N, C, threads_);
}

template <typename F>
void CpuBackend<F>::bias_forward(F* x, const F* b, int64_t N, int64_t M) {
  ops::bias_forward(x, b, N, M, threads_);
}

template <typename F>
void CpuBackend<F>::bias_backward(F* db, const F* dout, int64_t N, int64_t M) {
  ops::bias_backward(db, dout, N, M, threads_);
}

template <typename F>
void CpuBackend<F>::rope_tables(F* cos, F* sin, const int32_t* pos, const F* inv_freq,
                                int64_t N, int64_t half) {
  ops::rope_tables(cos, sin, pos, inv_freq, N, half, threads_);
}

template <typename F>
void CpuBackend<F>::rope_forward(F* qkv, const F* cos, const F* sin, int64_t N, int64_t NH,
                                 int64_t NKV, int64_t HS) {
  ops::rope_rotate(qkv, cos, sin, N, NH, NKV, HS, F(1), threads_);
}

template <typename F>
void CpuBackend<F>::rope_backward(F* dqkv, const F* cos, const F* sin, int64_t N, int64_t NH,
                                  int64_t NKV, int64_t HS) {
  ops::rope_rotate(dqkv, cos, sin, N, NH, NKV, HS, F(-1), threads_);
}

template <typename F>
void CpuBackend<F>::attention_forward(F* att, F* probs, const F* qkv, const int32_t* mask,
                                      int64_t B, int64_t T, int64_t NH, int64_t NKV,
                                      int64_t HS, int64_t window) {
  flops_ += ops::attention_forward(att, probs, qkv, mask, B, T, NH, NKV, HS, window, threads_);
}

template <typename F>
void CpuBackend<F>::attention_backward(F* dqkv, const F* datt, const F* qkv, const F* /*att*/,
                                       F* probs, const int32_t* mask, int64_t B, int64_t T,
                                       int64_t NH, int64_t NKV, int64_t HS, int64_t window) {
  F* scratch = attention_scratch(static_cast<int64_t>(threads_) * T * T);
  flops_ += ops::attention_backward(dqkv, datt, qkv, probs, mask, B, T, NH, NKV, HS, window,
                                    scratch, threads_);
}

template <typename F>
void CpuBackend<F>::swiglu_forward(F* h, const F* gu, int64_t N, int64_t H) {
  ops::swiglu_forward(h, gu, N, H, threads_);
}

template <typename F>
void CpuBackend<F>::swiglu_backward(F* dgu, const F* dh, const F* gu, int64_t N, int64_t H) {
  ops::swiglu_backward(dgu, dh, gu, N, H, threads_);
}

template <typename F>
void CpuBackend<F>::add_inplace(F* y, const F* x, int64_t n) {
  const int threads = ops::threads_for(n, threads_);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

template <typename F>
void CpuBackend<F>::gather_rows(F* dst, const F* src, const int32_t* rows, int64_t R,
                                int64_t C) {
  const int threads = ops::threads_for(R * C, threads_);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < R; r++) {
    std::memcpy(dst + r * C, src + static_cast<int64_t>(rows[r]) * C, sizeof(F) * C);
  }
}

template <typename F>
void CpuBackend<F>::scatter_rows(F* dst, const F* src, const int32_t* rows, int64_t R,
                                 int64_t C) {
  const int threads = ops::threads_for(R * C, threads_);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < R; r++) {
    std::memcpy(dst + static_cast<int64_t>(rows[r]) * C, src + r * C, sizeof(F) * C);
  }
}

template <typename F>
void CpuBackend<F>::logprob_forward(F* logp, F* lse, const F* logits, const int32_t* targets,
                                    int64_t R, int64_t V) {
  ops::logprob_forward(logp, lse, logits, targets, R, V, threads_);
}

template <typename F>
void CpuBackend<F>::logprob_backward(F* logits, const F* lse, const int32_t* targets,
                                     const F* dlogp, int64_t R, int64_t V) {
  ops::logprob_backward(logits, lse, targets, dlogp, R, V, threads_);
}

template <typename F>
double CpuBackend<F>::sum_squares(const F* x, int64_t n) {
  return ops::sum_squares(x, n, blocks_, threads_);
}

template <typename F>
void CpuBackend<F>::scale(F* x, F s, int64_t n) {
  const int threads = ops::threads_for(n, threads_);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) x[i] *= s;
}

template <typename F>
void CpuBackend<F>::adamw_update(F* p, const F* g, F* m, F* v, int64_t n, double lr,
                                 double beta1, double beta2, double eps, double weight_decay,
                                 double grad_scale, double bc1, double bc2) {
  ops::adamw_update(p, g, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, bc1, bc2,
                    threads_);
}

template <typename F>
void CpuBackend<F>::normal_init(F* x, int64_t n, double std, uint64_t seed, uint64_t offset) {
  ops::normal_init(x, n, std, seed, offset, threads_);
}

template <typename F>
F* CpuBackend<F>::attention_scratch(int64_t elements) {
  if (static_cast<int64_t>(scratch_.size()) < elements) scratch_.resize(elements);
  return scratch_.data();
}

template class CpuBackend<float>;
template class CpuBackend<double>;

}  // namespace delta::cpu
