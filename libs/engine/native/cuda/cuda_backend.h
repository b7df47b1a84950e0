// The CUDA implementation of Backend<float>: device memory, matrix products on cuBLAS in
// bfloat16 with float accumulation (or plain float), and the kernels of this folder, all on
// one stream. Parameters, gradients, AdamW moments, log-probs and losses stay float; a
// bfloat16 copy of the parameters feeds the products. This header needs no CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/backend.h"

struct CUstream_st;
struct cublasContext;

namespace delta::cuda {

struct Bf16;

// How matrix products run: bfloat16 operands with float accumulation (the product default),
// or float throughout (for tight parity checks against the CPU).
enum class MatmulPrecision { kBf16, kFloat };

// Device memory figures of one backend, in bytes.
struct MemoryStats {
  size_t allocated = 0;   // held now by this backend (arenas, bfloat16 copies, scratch)
  size_t peak = 0;        // the most it held at once
  size_t device_used = 0; // in use on the device by every process (total - free)
  size_t device_total = 0;
};

class CudaBackend final : public Backend<float> {
 public:
  // Throws EngineError(INVALID_STATE) when no usable device (compute capability 8.0 or newer)
  // is present.
  explicit CudaBackend(int device = 0, MatmulPrecision precision = MatmulPrecision::kBf16);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  void* alloc(size_t bytes) override;
  void release(void* ptr) override;
  void upload(void* dst, const void* src, size_t bytes) override;
  void download(void* dst, const void* src, size_t bytes) override;
  void zero(void* dst, size_t bytes) override;
  void copy(void* dst, const void* src, size_t bytes) override;

  void set_threads(int) override {}
  void enter() override;
  double matmul_flops() const override { return flops_; }
  void bind_parameters(const float* params, int64_t n) override;

  void matmul(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
              int64_t ldc) override;

  void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t N,
                         int64_t C) override;
  void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t N,
                          int64_t C) override;
  void rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int64_t N,
                       int64_t C, double eps) override;
  void rmsnorm_apply(float* out, const float* x, const float* w, const float* rstd, int64_t N,
                     int64_t C) override;
  void rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x,
                        const float* w, const float* rstd, int64_t N, int64_t C) override;
  void bias_forward(float* x, const float* b, int64_t N, int64_t M) override;
  void bias_backward(float* db, const float* dout, int64_t N, int64_t M) override;
  void rope_tables(float* cos, float* sin, const int32_t* pos, const float* inv_freq, int64_t N,
                   int64_t half) override;
  void rope_forward(float* qkv, const float* cos, const float* sin, int64_t N, int64_t NH,
                    int64_t NKV, int64_t HS) override;
  void rope_backward(float* dqkv, const float* cos, const float* sin, int64_t N, int64_t NH,
                     int64_t NKV, int64_t HS) override;
  void attention_forward(float* att, float* probs, const float* qkv, const int32_t* mask,
                         int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                         int64_t window) override;
  void attention_backward(float* dqkv, const float* datt, const float* qkv, const float* att,
                          float* probs, const int32_t* mask, int64_t B, int64_t T, int64_t NH,
                          int64_t NKV, int64_t HS, int64_t window) override;
  int64_t attention_state_elements(int64_t B, int64_t T, int64_t NH) const override;
  void swiglu_forward(float* h, const float* gu, int64_t N, int64_t H) override;
  void swiglu_backward(float* dgu, const float* dh, const float* gu, int64_t N,
                       int64_t H) override;
  void add_inplace(float* y, const float* x, int64_t n) override;
  void gather_rows(float* dst, const float* src, const int32_t* rows, int64_t R,
                   int64_t C) override;
  void scatter_rows(float* dst, const float* src, const int32_t* rows, int64_t R,
                    int64_t C) override;
  void logprob_forward(float* logp, float* lse, const float* logits, const int32_t* targets,
                       int64_t R, int64_t V) override;
  void logprob_backward(float* logits, const float* lse, const int32_t* targets,
                        const float* dlogp, int64_t R, int64_t V) override;
  double sum_squares(const float* x, int64_t n) override;
  void scale(float* x, float s, int64_t n) override;
  void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, double lr,
                    double beta1, double beta2, double eps, double weight_decay,
                    double grad_scale, double bc1, double bc2) override;
  void normal_init(float* x, int64_t n, double std, uint64_t seed, uint64_t offset) override;

  // Waits for every queued kernel (for timings; downloads already wait).
  void synchronize();
  MemoryStats memory();
  // "NVIDIA H200 (sm_90, 132 SMs)".
  std::string device_name() const;

 private:
  // A device buffer that grows (never shrinks) to the largest size asked of it.
  struct Scratch {
    void* ptr = nullptr;
    size_t bytes = 0;
  };
  void* grow(Scratch& s, size_t bytes);
  void* device_alloc(size_t bytes);
  void device_free(void* ptr);
  // A bfloat16 view of a row-major operand with `rows` rows of `cols` used columns and row
  // stride ld: the parameters' copy when it lies there, else a rounded copy in `slot`.
  const Bf16* bf16_operand(const float* x, int64_t rows, int64_t cols, int64_t ld,
                           Scratch& slot);
  bool in_parameters(const void* p) const;
  // Marks the bfloat16 copy stale when [dst, dst + bytes) overlaps the parameters.
  void touched(const void* dst, size_t bytes);

  int device_;
  MatmulPrecision precision_;
  CUstream_st* stream_ = nullptr;
  cublasContext* cublas_ = nullptr;
  double flops_ = 0;

  std::unordered_map<void*, size_t> sizes_;
  size_t allocated_ = 0, peak_ = 0;

  const float* params_ = nullptr;
  int64_t n_params_ = 0;
  Bf16* params_bf16_ = nullptr;
  bool params_bf16_stale_ = true;

  Scratch operand_a_, operand_b_, partial_, squares_, embedding_rows_;
  std::vector<int32_t> host_ids_, host_order_, host_rows_;
};

}  // namespace delta::cuda
