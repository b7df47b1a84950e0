// The seam between the engine's graph and a device: memory, matrix products and the kernels
// of each op. The model graph, losses, optimizer and schedules call only this interface, so a
// CUDA backend supplies an implementation of it and nothing else. It holds no model state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace delta {

// Row-major everywhere. Pointers given to kernels are device memory from alloc().
// F is the floating-point type: float in the product, double in the gradient checks.
template <typename F>
class Backend {
 public:
  virtual ~Backend() = default;

  // Memory. alloc is called once per arena; steady-state steps never call it.
  virtual void* alloc(size_t bytes) = 0;
  virtual void release(void* ptr) = 0;
  virtual void upload(void* dst, const void* src, size_t bytes) = 0;
  virtual void download(void* dst, const void* src, size_t bytes) = 0;
  virtual void zero(void* dst, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;

  // Threads used by this backend's kernels (the CPU backend: OpenMP and BLAS threads).
  virtual void set_threads(int threads) = 0;
  // Called before a sequence of kernels on the calling thread.
  virtual void enter() = 0;
  // Floating-point operations done by matmul() since construction (for throughput figures).
  virtual double matmul_flops() const = 0;

  // Where the model keeps its parameters (called once, after the model's alloc). A backend
  // that runs matrix products in a lower precision may keep a copy of them in that precision;
  // it then refreshes the copy itself when its own calls write to that range.
  virtual void bind_parameters(const F* params, int64_t n) {
    (void)params;
    (void)n;
  }

  // C[M,N] = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T; lda/ldb/ldc are row strides.
  virtual void matmul(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, F alpha,
                      const F* A, int64_t lda, const F* B, int64_t ldb, F beta, F* C,
                      int64_t ldc) = 0;

  // out[N,C] = table[ids[n], :].  Backward: dtable[ids[n], :] += dout[n, :].
  virtual void embedding_forward(F* out, const int32_t* ids, const F* table, int64_t N,
                                 int64_t C) = 0;
  virtual void embedding_backward(F* dtable, const F* dout, const int32_t* ids, int64_t N,
                                  int64_t C) = 0;

  // out = x * rstd * w per row, rstd = 1 / sqrt(mean(x^2) + eps).
  // Backward accumulates: dx += ..., dw += ... .
  virtual void rmsnorm_forward(F* out, F* rstd, const F* x, const F* w, int64_t N, int64_t C,
                               double eps) = 0;
  virtual void rmsnorm_apply(F* out, const F* x, const F* w, const F* rstd, int64_t N,
                             int64_t C) = 0;
  virtual void rmsnorm_backward(F* dx, F* dw, const F* dout, const F* x, const F* w,
                                const F* rstd, int64_t N, int64_t C) = 0;

  // x[N,M] += b[M] per row.  Backward: db[M] += sum over rows of dout.
  virtual void bias_forward(F* x, const F* b, int64_t N, int64_t M) = 0;
  virtual void bias_backward(F* db, const F* dout, int64_t N, int64_t M) = 0;

  // cos/sin[N, HS/2] for each row's position id. inv_freq[HS/2] is in device memory.
  virtual void rope_tables(F* cos, F* sin, const int32_t* pos, const F* inv_freq, int64_t N,
                           int64_t half) = 0;
  // Rotates the q and k parts of qkv[N, QKV] in place (rotate-half convention).
  // Backward applies the inverse rotation to dq and dk in dqkv.
  virtual void rope_forward(F* qkv, const F* cos, const F* sin, int64_t N, int64_t NH,
                            int64_t NKV, int64_t HS) = 0;
  virtual void rope_backward(F* dqkv, const F* cos, const F* sin, int64_t N, int64_t NH,
                             int64_t NKV, int64_t HS) = 0;

  // Causal self-attention with a key mask and optional sliding window (0 = off).
  // qkv[B*T, QKV] -> att[B*T, QD]; probs keeps what the backward needs: the softmax
  // [B, NH, T, T] by default, or whatever attention_state_elements() sizes for the backend.
  // Rows whose mask is 0 get a zero output. Backward writes (not accumulates) dqkv, reads the
  // forward's output att, and may overwrite probs.
  virtual void attention_forward(F* att, F* probs, const F* qkv, const int32_t* mask,
                                 int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                                 int64_t window) = 0;
  virtual void attention_backward(F* dqkv, const F* datt, const F* qkv, const F* att, F* probs,
                                  const int32_t* mask, int64_t B, int64_t T, int64_t NH,
                                  int64_t NKV, int64_t HS, int64_t window) = 0;
  // Elements of probs per layer for a batch capacity. A backend whose attention recomputes the
  // scores in its backward (tiled, online softmax) keeps only per-row statistics.
  virtual int64_t attention_state_elements(int64_t B, int64_t T, int64_t NH) const {
    return B * NH * T * T;
  }

  // h[N,H] = silu(gu[:, :H]) * gu[:, H:].  Backward writes dgu[N, 2H].
  virtual void swiglu_forward(F* h, const F* gu, int64_t N, int64_t H) = 0;
  virtual void swiglu_backward(F* dgu, const F* dh, const F* gu, int64_t N, int64_t H) = 0;

  // y[n] += x[n] (residual connections and gradient sums).
  virtual void add_inplace(F* y, const F* x, int64_t n) = 0;

  // dst[r, :] = src[rows[r], :] and its adjoint dst[rows[r], :] = src[r, :] (others untouched).
  virtual void gather_rows(F* dst, const F* src, const int32_t* rows, int64_t R, int64_t C) = 0;
  virtual void scatter_rows(F* dst, const F* src, const int32_t* rows, int64_t R,
                            int64_t C) = 0;

  // Token log-probs from logits[R, V]: lse[r] = logsumexp(logits[r]), logp[r] =
  // logits[r, targets[r]] - lse[r], computed in the compute type with a max shift.
  virtual void logprob_forward(F* logp, F* lse, const F* logits, const int32_t* targets,
                               int64_t R, int64_t V) = 0;
  // In place: logits[r, :] becomes dlogp[r] * (onehot(targets[r]) - softmax(logits[r])).
  virtual void logprob_backward(F* logits, const F* lse, const int32_t* targets,
                                const F* dlogp, int64_t R, int64_t V) = 0;

  // Sum of squares of x[n], reduced in a fixed order (deterministic for a thread count).
  virtual double sum_squares(const F* x, int64_t n) = 0;
  virtual void scale(F* x, F s, int64_t n) = 0;

  // Decoupled-weight-decay Adam update of one tensor. bc1/bc2: bias corrections 1 - beta^t.
  virtual void adamw_update(F* p, const F* g, F* m, F* v, int64_t n, double lr, double beta1,
                            double beta2, double eps, double weight_decay, double grad_scale,
                            double bc1, double bc2) = 0;

  // Fills x[n] with N(0, std^2) draws from a counter-based generator at (seed, offset).
  virtual void normal_init(F* x, int64_t n, double std, uint64_t seed, uint64_t offset) = 0;
};

}  // namespace delta
