// The CPU implementation of Backend: host memory, OpenBLAS for matrix products and the
// OpenMP kernels in ops/. Instantiated for float (the product) and double (gradient checks).
#pragma once

#include <vector>

#include "core/backend.h"

namespace delta::cpu {

template <typename F>
class CpuBackend final : public Backend<F> {
 public:
  explicit CpuBackend(int threads);
  ~CpuBackend() override;

  void* alloc(size_t bytes) override;
  void release(void* ptr) override;
  void upload(void* dst, const void* src, size_t bytes) override;
  void download(void* dst, const void* src, size_t bytes) override;
  void zero(void* dst, size_t bytes) override;
  void copy(void* dst, const void* src, size_t bytes) override;

  void set_threads(int threads) override;
  void enter() override;
  double matmul_flops() const override { return flops_; }

  void matmul(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, F alpha, const F* A,
              int64_t lda, const F* B, int64_t ldb, F beta, F* C, int64_t ldc) override;

  void embedding_forward(F* out, const int32_t* ids, const F* table, int64_t N,
                         int64_t C) override;
  void embedding_backward(F* dtable, const F* dout, const int32_t* ids, int64_t N,
                          int64_t C) override;
  void rmsnorm_forward(F* out, F* rstd, const F* x, const F* w, int64_t N, int64_t C,
                       double eps) override;
  void rmsnorm_apply(F* out, const F* x, const F* w, const F* rstd, int64_t N,
                     int64_t C) override;
  void rmsnorm_backward(F* dx, F* dw, const F* dout, const F* x, const F* w, const F* rstd,
                        int64_t N, int64_t C) override;
  void bias_forward(F* x, const F* b, int64_t N, int64_t M) override;
  void bias_backward(F* db, const F* dout, int64_t N, int64_t M) override;
  void rope_tables(F* cos, F* sin, const int32_t* pos, const F* inv_freq, int64_t N,
                   int64_t half) override;
  void rope_forward(F* qkv, const F* cos, const F* sin, int64_t N, int64_t NH, int64_t NKV,
                    int64_t HS) override;
  void rope_backward(F* dqkv, const F* cos, const F* sin, int64_t N, int64_t NH, int64_t NKV,
                     int64_t HS) override;
  void attention_forward(F* att, F* probs, const F* qkv, const int32_t* mask, int64_t B,
                         int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                         int64_t window) override;
  void attention_backward(F* dqkv, const F* datt, const F* qkv, const F* att, F* probs,
                          const int32_t* mask, int64_t B, int64_t T, int64_t NH, int64_t NKV,
                          int64_t HS, int64_t window) override;
  void swiglu_forward(F* h, const F* gu, int64_t N, int64_t H) override;
  void swiglu_backward(F* dgu, const F* dh, const F* gu, int64_t N, int64_t H) override;
  void add_inplace(F* y, const F* x, int64_t n) override;
  void gather_rows(F* dst, const F* src, const int32_t* rows, int64_t R, int64_t C) override;
  void scatter_rows(F* dst, const F* src, const int32_t* rows, int64_t R, int64_t C) override;
  void logprob_forward(F* logp, F* lse, const F* logits, const int32_t* targets, int64_t R,
                       int64_t V) override;
  void logprob_backward(F* logits, const F* lse, const int32_t* targets, const F* dlogp,
                        int64_t R, int64_t V) override;
  double sum_squares(const F* x, int64_t n) override;
  void scale(F* x, F s, int64_t n) override;
  void adamw_update(F* p, const F* g, F* m, F* v, int64_t n, double lr, double beta1,
                    double beta2, double eps, double weight_decay, double grad_scale,
                    double bc1, double bc2) override;
  void normal_init(F* x, int64_t n, double std, uint64_t seed, uint64_t offset) override;

 private:
  // Grows (never shrinks) the per-thread scratch of the attention backward.
  F* attention_scratch(int64_t elements);

  int threads_;
  double flops_ = 0;
  std::vector<F> scratch_;
  std::vector<double> blocks_;
};

}  // namespace delta::cpu
