// CudaBackend: device memory with its own accounting, matrix products through cuBLAS, and each
// remaining Backend call forwarded to its kernel's launcher (kernels.h). Calls queue work on
// one stream; uploads, downloads and the sum of squares wait for it.
#include "cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "cuda/check.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace delta::cuda {

namespace {

void check_cublas(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const ErrorCode code =
      status == CUBLAS_STATUS_ALLOC_FAILED ? ErrorCode::kOutOfMemory : ErrorCode::kInternal;
  fail(code, std::string("cuBLAS ") + what + " failed: " + cublasGetStatusName(status) + " (" +
                 cublasGetStatusString(status) + ")");
}

__nv_bfloat16* bf16(Bf16* p) { return reinterpret_cast<__nv_bfloat16*>(p); }

}  // namespace

CudaBackend::CudaBackend(int device, MatmulPrecision precision)
    : device_(device), precision_(precision) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    cudaGetLastError();  // clear it, so later calls do not report it again
    fail(ErrorCode::kInvalidState,
         std::string("no CUDA device is available (") +
             (err != cudaSuccess ? cudaGetErrorString(err) : "the driver lists none") +
             "); use device 'cpu'");
  }
  if (device < 0 || device >= count) {
    fail(ErrorCode::kInvalidArgument, "CUDA device " + std::to_string(device) +
                                          " does not exist; this machine has " +
                                          std::to_string(count));
  }
  check(cudaSetDevice(device), "cudaSetDevice");
  int major = 0, minor = 0;
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
        "cudaDeviceGetAttribute");
  check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device),
        "cudaDeviceGetAttribute");
  if (major < 8) {
    fail(ErrorCode::kInvalidState,
         "CUDA device " + std::to_string(device) + " has compute capability " +
             std::to_string(major) + "." + std::to_string(minor) +
             "; the engine needs 8.0 or newer (bfloat16 tensor cores)");
  }
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  check_cublas(cublasCreate(&cublas_), "cublasCreate");
  check_cublas(cublasSetStream(cublas_, stream_), "cublasSetStream");
  // Float products stay float (no TF32): the float precision exists for exact parity checks.
  check_cublas(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
}

CudaBackend::~CudaBackend() {
  // Nothing here may throw: errors while tearing down are ignored.
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  for (Scratch* s : {&operand_a_, &operand_b_, &partial_, &squares_, &embedding_rows_}) {
    device_free(s->ptr);
  }
  device_free(params_bf16_);
  cublasDestroy(cublas_);
  cudaStreamDestroy(stream_);
}

void* CudaBackend::device_alloc(size_t bytes) {
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, std::max<size_t>(bytes, 1));
  if (err != cudaSuccess) {
    cudaGetLastError();
    size_t free = 0, total = 0;
    cudaMemGetInfo(&free, &total);
    fail(err == cudaErrorMemoryAllocation ? ErrorCode::kOutOfMemory : ErrorCode::kInternal,
         "cannot allocate " + std::to_string(bytes >> 20) + " MiB on CUDA device " +
             std::to_string(device_) + " (" + std::to_string(free >> 20) + " MiB free of " +
             std::to_string(total >> 20) + "): " + cudaGetErrorString(err));
  }
  sizes_[p] = bytes;
  allocated_ += bytes;
  peak_ = std::max(peak_, allocated_);
  return p;
}

void CudaBackend::device_free(void* ptr) {
  if (ptr == nullptr) return;
  auto it = sizes_.find(ptr);
  if (it != sizes_.end()) {
    allocated_ -= it->second;
    sizes_.erase(it);
  }
  cudaFree(ptr);
}

void* CudaBackend::grow(Scratch& s, size_t bytes) {
  if (s.bytes >= bytes) return s.ptr;
  if (s.ptr != nullptr) {
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");  // queued work may use it
    device_free(s.ptr);
    s.ptr = nullptr;
    s.bytes = 0;
  }
  s.ptr = device_alloc(bytes);
  s.bytes = bytes;
  return s.ptr;
}

void* CudaBackend::alloc(size_t bytes) {
  enter();
  return device_alloc(bytes);
}

void CudaBackend::release(void* ptr) {
  if (ptr == nullptr) return;
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  if (ptr == params_) {
    device_free(params_bf16_);
    params_bf16_ = nullptr;
    params_ = nullptr;
    n_params_ = 0;
  }
  device_free(ptr);
}

void CudaBackend::upload(void* dst, const void* src, size_t bytes) {
  enter();
  touched(dst, bytes);
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "upload");
  check(cudaStreamSynchronize(stream_), "upload");
}

void CudaBackend::download(void* dst, const void* src, size_t bytes) {
  enter();
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), "download");
  check(cudaStreamSynchronize(stream_), "download");
}

void CudaBackend::zero(void* dst, size_t bytes) {
  touched(dst, bytes);
  check(cudaMemsetAsync(dst, 0, bytes, stream_), "cudaMemsetAsync");
}

void CudaBackend::copy(void* dst, const void* src, size_t bytes) {
  touched(dst, bytes);
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_), "copy");
}

void CudaBackend::enter() { check(cudaSetDevice(device_), "cudaSetDevice"); }

void CudaBackend::synchronize() {
  enter();
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

MemoryStats CudaBackend::memory() {
  enter();
  MemoryStats m;
  m.allocated = allocated_;
  m.peak = peak_;
  size_t free = 0, total = 0;
  check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
  m.device_used = total - free;
  m.device_total = total;
  return m;
}

std::string CudaBackend::device_name() const {
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, device_), "cudaGetDeviceProperties");
  return std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) +
         ", " + std::to_string(p.multiProcessorCount) + " SMs)";
}

void CudaBackend::bind_parameters(const float* params, int64_t n) {
  params_ = params;
  n_params_ = n;
  params_bf16_stale_ = true;
  if (precision_ == MatmulPrecision::kBf16) {
    params_bf16_ = static_cast<Bf16*>(device_alloc(sizeof(__nv_bfloat16) * n));
  }
}

bool CudaBackend::in_parameters(const void* p) const {
  const char* c = static_cast<const char*>(p);
  const char* base = reinterpret_cast<const char*>(params_);
  return params_ != nullptr && c >= base && c < base + sizeof(float) * n_params_;
}

void CudaBackend::touched(const void* dst, size_t bytes) {
  if (params_ == nullptr) return;
  const char* c = static_cast<const char*>(dst);
  const char* base = reinterpret_cast<const char*>(params_);
  if (c < base + sizeof(float) * n_params_ && c + bytes > base) params_bf16_stale_ = true;
}

const Bf16* CudaBackend::bf16_operand(const float* x, int64_t rows, int64_t cols, int64_t ld,
                                      Scratch& slot) {
  const int64_t count = (rows - 1) * ld + cols;
  if (params_bf16_ != nullptr && in_parameters(x)) {
    if (params_bf16_stale_) {
      to_bf16(stream_, params_bf16_, params_, n_params_);
      params_bf16_stale_ = false;
    }
    return reinterpret_cast<const Bf16*>(bf16(params_bf16_) + (x - params_));
  }
  auto* buf = static_cast<Bf16*>(grow(slot, sizeof(__nv_bfloat16) * count));
  to_bf16(stream_, buf, x, count);
  return buf;
}

// Row-major C = op(A) op(B) is the column-major product C^T = op(B)^T op(A)^T, which is what
// cuBLAS is asked for: the operands swap places and keep their transpose flags.
void CudaBackend::matmul(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                         float* C, int64_t ldc) {
  flops_ += 2.0 * static_cast<double>(M) * N * K;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    scale(C, beta, M * ldc);  // an empty sum; ldc == N wherever the graph calls with K = 0
    return;
  }
  const cublasOperation_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const void* a = A;
  const void* b = B;
  cudaDataType_t type = CUDA_R_32F;
  if (precision_ == MatmulPrecision::kBf16) {
    a = bf16_operand(A, ta ? K : M, ta ? M : K, lda, operand_a_);
    b = bf16_operand(B, tb ? N : K, tb ? K : N, ldb, operand_b_);
    type = CUDA_R_16BF;
  }
  check_cublas(cublasGemmEx(cublas_, op_b, op_a, static_cast<int>(N), static_cast<int>(M),
                            static_cast<int>(K), &alpha, b, type, static_cast<int>(ldb), a,
                            type, static_cast<int>(lda), &beta, C, CUDA_R_32F,
                            static_cast<int>(ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx");
}

void CudaBackend::embedding_forward(float* out, const int32_t* ids, const float* table,
                                    int64_t N, int64_t C) {
  cuda::embedding_forward(stream_, out, ids, table, N, C);
}

// Groups the rows by token id on the host (a stable sort of N ids), so the kernel can add each
// token's rows in order without atomics.
void CudaBackend::embedding_backward(float* dtable, const float* dout, const int32_t* ids,
                                     int64_t N, int64_t C) {
  if (N <= 0) return;
  host_ids_.resize(N);
  download(host_ids_.data(), ids, sizeof(int32_t) * N);
  host_order_.resize(N);
  std::iota(host_order_.begin(), host_order_.end(), 0);
  std::stable_sort(host_order_.begin(), host_order_.end(),
                   [&](int32_t a, int32_t b) { return host_ids_[a] < host_ids_[b]; });

  // Packed as [order (N)] [starts (U + 1)] [run ids (U)].
  host_rows_.assign(host_order_.begin(), host_order_.end());
  std::vector<int32_t> run_ids;
  for (int64_t k = 0; k < N; k++) {
    const int32_t id = host_ids_[host_order_[k]];
    if (k == 0 || id != host_ids_[host_order_[k - 1]]) {
      host_rows_.push_back(static_cast<int32_t>(k));
      run_ids.push_back(id);
    }
  }
  host_rows_.push_back(static_cast<int32_t>(N));
  const int64_t U = static_cast<int64_t>(run_ids.size());
  host_rows_.insert(host_rows_.end(), run_ids.begin(), run_ids.end());

  auto* rows = static_cast<int32_t*>(grow(embedding_rows_, sizeof(int32_t) * host_rows_.size()));
  upload(rows, host_rows_.data(), sizeof(int32_t) * host_rows_.size());
  cuda::embedding_backward(stream_, dtable, dout, rows, rows + N, rows + N + U + 1, U, C);
}

void CudaBackend::rmsnorm_forward(float* out, float* rstd, const float* x, const float* w,
                                  int64_t N, int64_t C, double eps) {
  cuda::rmsnorm_forward(stream_, out, rstd, x, w, N, C, eps);
}

void CudaBackend::rmsnorm_apply(float* out, const float* x, const float* w, const float* rstd,
                                int64_t N, int64_t C) {
  cuda::rmsnorm_apply(stream_, out, x, w, rstd, N, C);
}

void CudaBackend::rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x,
                                   const float* w, const float* rstd, int64_t N, int64_t C) {
  auto* partial =
      static_cast<float*>(grow(partial_, sizeof(float) * column_partial_elements(N, C)));
  cuda::rmsnorm_backward(stream_, dx, dw, dout, x, w, rstd, N, C, partial);
}

void CudaBackend::bias_forward(float* x, const float* b, int64_t N, int64_t M) {
  cuda::bias_forward(stream_, x, b, N, M);
}

void CudaBackend::bias_backward(float* db, const float* dout, int64_t N, int64_t M) {
  auto* partial =
      static_cast<float*>(grow(partial_, sizeof(float) * column_partial_elements(N, M)));
  cuda::bias_backward(stream_, db, dout, N, M, partial);
}

void CudaBackend::rope_tables(float* cos, float* sin, const int32_t* pos, const float* inv_freq,
                              int64_t N, int64_t half) {
  cuda::rope_tables(stream_, cos, sin, pos, inv_freq, N, half);
}

void CudaBackend::rope_forward(float* qkv, const float* cos, const float* sin, int64_t N,
                               int64_t NH, int64_t NKV, int64_t HS) {
  cuda::rope_rotate(stream_, qkv, cos, sin, N, NH, NKV, HS, 1.0f);
}

void CudaBackend::rope_backward(float* dqkv, const float* cos, const float* sin, int64_t N,
                                int64_t NH, int64_t NKV, int64_t HS) {
  cuda::rope_rotate(stream_, dqkv, cos, sin, N, NH, NKV, HS, -1.0f);
}

void CudaBackend::attention_forward(float* att, float* probs, const float* qkv,
                                    const int32_t* mask, int64_t B, int64_t T, int64_t NH,
                                    int64_t NKV, int64_t HS, int64_t window) {
  flops_ += cuda::attention_forward(stream_, att, probs, qkv, mask,
                                    AttentionShape{B, T, NH, NKV, HS, window});
}

void CudaBackend::attention_backward(float* dqkv, const float* datt, const float* qkv,
                                     const float* att, float* probs, const int32_t* mask,
                                     int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                                     int64_t window) {
  flops_ += cuda::attention_backward(stream_, dqkv, datt, qkv, att, probs, mask,
                                     AttentionShape{B, T, NH, NKV, HS, window});
}

int64_t CudaBackend::attention_state_elements(int64_t B, int64_t T, int64_t NH) const {
  return cuda::attention_state_elements(B, T, NH);
}

void CudaBackend::swiglu_forward(float* h, const float* gu, int64_t N, int64_t H) {
  cuda::swiglu_forward(stream_, h, gu, N, H);
}

void CudaBackend::swiglu_backward(float* dgu, const float* dh, const float* gu, int64_t N,
                                  int64_t H) {
  cuda::swiglu_backward(stream_, dgu, dh, gu, N, H);
}

void CudaBackend::add_inplace(float* y, const float* x, int64_t n) {
  touched(y, sizeof(float) * n);
  cuda::add_inplace(stream_, y, x, n);
}

void CudaBackend::gather_rows(float* dst, const float* src, const int32_t* rows, int64_t R,
                              int64_t C) {
  cuda::gather_rows(stream_, dst, src, rows, R, C);
}

void CudaBackend::scatter_rows(float* dst, const float* src, const int32_t* rows, int64_t R,
                               int64_t C) {
  cuda::scatter_rows(stream_, dst, src, rows, R, C);
}

void CudaBackend::logprob_forward(float* logp, float* lse, const float* logits,
                                  const int32_t* targets, int64_t R, int64_t V) {
  cuda::logprob_forward(stream_, logp, lse, logits, targets, R, V);
}

void CudaBackend::logprob_backward(float* logits, const float* lse, const int32_t* targets,
                                   const float* dlogp, int64_t R, int64_t V) {
  cuda::logprob_backward(stream_, logits, lse, targets, dlogp, R, V);
}

double CudaBackend::sum_squares(const float* x, int64_t n) {
  const int64_t partials = cuda::sum_squares_partials(n);
  auto* buf = static_cast<double*>(grow(squares_, sizeof(double) * (partials + 1)));
  cuda::sum_squares(stream_, buf + partials, buf, x, n);
  double total = 0;
  download(&total, buf + partials, sizeof(double));
  return total;
}

void CudaBackend::scale(float* x, float s, int64_t n) {
  touched(x, sizeof(float) * n);
  cuda::scale(stream_, x, s, n);
}

// The constants are rounded to float as the CPU kernel rounds them, so both take the same step.
void CudaBackend::adamw_update(float* p, const float* g, float* m, float* v, int64_t n,
                               double lr, double beta1, double beta2, double eps,
                               double weight_decay, double grad_scale, double bc1, double bc2) {
  AdamwStep st;
  st.decay = static_cast<float>(1.0 - lr * weight_decay);
  st.beta1 = static_cast<float>(beta1);
  st.beta2 = static_cast<float>(beta2);
  st.step = static_cast<float>(lr / bc1);
  st.inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  st.eps = static_cast<float>(eps);
  st.grad_scale = static_cast<float>(grad_scale);

  // A fresh bfloat16 copy is kept fresh; a stale one is rebuilt whole before the next product.
  Bf16* shadow = nullptr;
  if (in_parameters(p)) {
    if (params_bf16_ != nullptr && !params_bf16_stale_) {
      shadow = reinterpret_cast<Bf16*>(bf16(params_bf16_) + (p - params_));
    } else {
      touched(p, sizeof(float) * n);
    }
  }
  cuda::adamw_update(stream_, p, g, m, v, shadow, n, st);
}

void CudaBackend::normal_init(float* x, int64_t n, double std, uint64_t seed, uint64_t offset) {
  touched(x, sizeof(float) * n);
  cuda::normal_init(stream_, x, n, std, seed, offset);
}

}  // namespace delta::cuda
