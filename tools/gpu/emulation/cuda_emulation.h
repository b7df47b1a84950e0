// A CPU stand-in for the parts of the CUDA runtime, cuBLAS and the kernel language that the
// engine's CUDA backend uses, so its kernels' logic can be checked on a machine without a GPU.
// A block's threads are cooperative fibers on one OS thread that switch at __syncthreads and
// at warp shuffles; blocks run one after another; device memory is host memory; cublasGemmEx
// is a plain loop nest. It models no timing, occupancy, memory coalescing or shared-memory
// limit, and finds a race only when the fiber order happens to expose it.
#pragma once
#include <algorithm>
#include <functional>
#include <ucontext.h>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>
using std::max;
using std::min;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
inline dim3 threadIdx;
inline dim3 blockIdx, blockDim, gridDim;
namespace emu {
// Cooperative fibers: the threads of one block run on this OS thread and switch at barriers.
struct Fiber {
  ucontext_t ctx;
  bool done = false;
};
inline ucontext_t sched;
inline std::vector<Fiber>* fibers = nullptr;
inline int current = 0;
inline int tid = 0;
inline std::function<void()>* body_fn = nullptr;
inline void yield() { swapcontext(&(*fibers)[current].ctx, &sched); }
struct Barrier {
  int expected = 0, count = 0;
  long gen = 0;
  void wait() {
    const long g = gen;
    if (++count == expected) {
      count = 0;
      gen++;
      return;
    }
    while (gen == g) yield();
  }
};
struct Ctx {
  Barrier block;
  std::vector<Barrier> warps;
  std::vector<double> xch;
};
inline Ctx* ctx = nullptr;
inline std::vector<float> dyn_smem(1 << 20);
inline void trampoline() {
  (*body_fn)();
  (*fibers)[current].done = true;
  swapcontext(&(*fibers)[current].ctx, &sched);
}
template <class F>
void launch(dim3 g, dim3 b, size_t smem, F&& body) {
  const int nt = b.x * b.y * b.z;
  if (smem > dyn_smem.size() * 4) std::abort();
  std::function<void()> fn = body;
  body_fn = &fn;
  Ctx c;
  c.block.expected = nt;
  for (int w = 0; w < (nt + 31) / 32; w++) {
    Barrier br;
    br.expected = std::min(32, nt - 32 * w);
    c.warps.push_back(br);
  }
  c.xch.resize(nt);
  ctx = &c;
  gridDim = g;
  blockDim = b;
  std::vector<Fiber> fs(nt);
  fibers = &fs;
  static std::vector<std::vector<char>> stacks;
  if ((int)stacks.size() < nt) stacks.resize(nt, std::vector<char>(1 << 17));
  for (unsigned bz = 0; bz < g.z; bz++)
    for (unsigned by = 0; by < g.y; by++)
      for (unsigned bx = 0; bx < g.x; bx++) {
        blockIdx = dim3(bx, by, bz);
        for (int t = 0; t < nt; t++) {
          getcontext(&fs[t].ctx);
          fs[t].ctx.uc_stack.ss_sp = stacks[t].data();
          fs[t].ctx.uc_stack.ss_size = stacks[t].size();
          fs[t].ctx.uc_link = nullptr;
          makecontext(&fs[t].ctx, trampoline, 0);
          fs[t].done = false;
        }
        bool any = true;
        while (any) {
          any = false;
          for (int t = 0; t < nt; t++) {
            if (fs[t].done) continue;
            any = true;
            current = t;
            tid = t;
            threadIdx = dim3(t % b.x, (t / b.x) % b.y, t / (b.x * b.y));
            swapcontext(&sched, &fs[t].ctx);
          }
        }
      }
  ctx = nullptr;
}
}  // namespace emu
#define __syncthreads() emu::ctx->block.wait()
template <class T>
T __shfl_xor_sync(unsigned, T v, int o) {
  const int t = emu::tid;
  auto& w = emu::ctx->warps[t / 32];
  emu::ctx->xch[t] = static_cast<double>(v);
  w.wait();
  T r = static_cast<T>(emu::ctx->xch[t ^ o]);
  w.wait();
  return r;
}
// bfloat16, rounded to nearest even like __float2bfloat16_rn.
struct __nv_bfloat16 {
  uint16_t x;
};
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  return {static_cast<uint16_t>(u >> 16)};
}
inline float __bfloat162float(__nv_bfloat16 b) {
  const uint32_t u = uint32_t(b.x) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The runtime: one device of compute capability 9.0; every call succeeds.
using cudaError_t = int;
constexpr int cudaSuccess = 0, cudaErrorMemoryAllocation = 2;
struct CUstream_st {};
using cudaStream_t = CUstream_st*;
inline const char* cudaGetErrorName(int) { return "cudaErrorEmulated"; }
inline const char* cudaGetErrorString(int) { return "emulated error"; }
inline int cudaGetLastError() { return 0; }
inline int cudaGetDeviceCount(int* c) { *c = 1; return 0; }
inline int cudaSetDevice(int) { return 0; }
inline int cudaGetDevice(int* d) { *d = 0; return 0; }
enum cudaDeviceAttr {
  cudaDevAttrComputeCapabilityMajor,
  cudaDevAttrComputeCapabilityMinor,
  cudaDevAttrMaxSharedMemoryPerBlockOptin
};
inline int cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int) {
  *v = a == cudaDevAttrComputeCapabilityMajor   ? 9
       : a == cudaDevAttrComputeCapabilityMinor ? 0
                                                : 232448;
  return 0;
}
constexpr unsigned cudaStreamNonBlocking = 1;
inline int cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { *s = new CUstream_st; return 0; }
inline int cudaStreamDestroy(cudaStream_t s) { delete s; return 0; }
inline int cudaStreamSynchronize(cudaStream_t) { return 0; }
// Fresh memory is filled with a pattern, so reading what was never written shows.
inline int cudaMalloc(void** p, size_t n) {
  const size_t bytes = (n + 255) / 256 * 256;
  *p = std::aligned_alloc(256, bytes);
  std::memset(*p, 0xCD, bytes);
  return 0;
}
inline int cudaFree(void* p) { std::free(p); return 0; }
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
inline int cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) {
  std::memmove(d, s, n);
  return 0;
}
inline int cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t) {
  std::memset(d, v, n);
  return 0;
}
inline int cudaMemGetInfo(size_t* f, size_t* t) {
  *f = size_t{1} << 30;
  *t = size_t{2} << 30;
  return 0;
}
struct cudaDeviceProp {
  char name[256];
  int major, minor, multiProcessorCount;
};
inline int cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::strcpy(p->name, "CPU emulation");
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 1;
  return 0;
}
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize };
template <class T>
int cudaFuncSetAttribute(T, cudaFuncAttribute, int) { return 0; }

// cuBLAS: column-major C = alpha op(A) op(B) + beta C, accumulated in double.
struct cublasContext {};
using cublasHandle_t = cublasContext*;
enum cublasStatus_t { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_ALLOC_FAILED = 3 };
enum cublasOperation_t { CUBLAS_OP_N, CUBLAS_OP_T };
enum cudaDataType_t { CUDA_R_32F, CUDA_R_16BF };
enum cublasComputeType_t { CUBLAS_COMPUTE_32F };
enum cublasGemmAlgo_t { CUBLAS_GEMM_DEFAULT };
enum cublasMath_t { CUBLAS_DEFAULT_MATH };
inline cublasStatus_t cublasCreate(cublasHandle_t* h) {
  *h = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasDestroy(cublasHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) {
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) {
  return CUBLAS_STATUS_SUCCESS;
}
inline const char* cublasGetStatusName(cublasStatus_t) { return "CUBLAS_STATUS_EMULATED"; }
inline const char* cublasGetStatusString(cublasStatus_t) { return "emulated"; }
inline float emulated_element(const void* p, cudaDataType_t t, int64_t i) {
  return t == CUDA_R_32F ? static_cast<const float*>(p)[i]
                         : __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}
inline cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb,
                                   int m, int n, int k, const void* alpha, const void* A,
                                   cudaDataType_t at, int lda, const void* B, cudaDataType_t bt,
                                   int ldb, const void* beta, void* C, cudaDataType_t, int ldc,
                                   cublasComputeType_t, cublasGemmAlgo_t) {
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  float* c = static_cast<float*>(C);
  for (int j = 0; j < n; j++) {
    for (int i = 0; i < m; i++) {
      double acc = 0;
      for (int l = 0; l < k; l++) {
        const int64_t ia = ta == CUBLAS_OP_N ? i + int64_t{l} * lda : l + int64_t{i} * lda;
        const int64_t ib = tb == CUBLAS_OP_N ? l + int64_t{j} * ldb : j + int64_t{l} * ldb;
        acc += double{emulated_element(A, at, ia)} * emulated_element(B, bt, ib);
      }
      float& out = c[i + int64_t{j} * ldc];
      out = static_cast<float>(al * acc + (be == 0 ? 0.0 : double{be} * out));
    }
  }
  return CUBLAS_STATUS_SUCCESS;
}
