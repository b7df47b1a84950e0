// Host-side launchers of the CUDA kernels, one group per op file (forward and backward side by
// side, as in ops/). Each queues work on the given stream and returns; pointers are device
// memory. The backend (cuda_backend.cu) is their only caller.
#pragma once

#include <cstdint>

struct CUstream_st;

namespace delta::cuda {

using Stream = CUstream_st*;
struct Bf16;  // __nv_bfloat16, kept out of this header

// elementwise.cu
void add_inplace(Stream s, float* y, const float* x, int64_t n);
void scale(Stream s, float* x, float factor, int64_t n);
void to_bf16(Stream s, Bf16* dst, const float* src, int64_t n);

// rows.cu: dst[r] = src[rows[r]] and its adjoint dst[rows[r]] = src[r].
void gather_rows(Stream s, float* dst, const float* src, const int32_t* rows, int64_t R,
                 int64_t C);
void scatter_rows(Stream s, float* dst, const float* src, const int32_t* rows, int64_t R,
                  int64_t C);

// embedding.cu. The backward takes the rows grouped by token id on the host: order[N] lists
// row indices sorted by id (stable), starts[U + 1] bounds each id's run, ids_sorted[U] the ids.
void embedding_forward(Stream s, float* out, const int32_t* ids, const float* table, int64_t N,
                       int64_t C);
void embedding_backward(Stream s, float* dtable, const float* dout, const int32_t* order,
                        const int32_t* starts, const int32_t* run_ids, int64_t U, int64_t C);

// rmsnorm.cu. partial holds column_partial_elements(N, C) floats for the dw reduction.
void rmsnorm_forward(Stream s, float* out, float* rstd, const float* x, const float* w,
                     int64_t N, int64_t C, double eps);
void rmsnorm_apply(Stream s, float* out, const float* x, const float* w, const float* rstd,
                   int64_t N, int64_t C);
void rmsnorm_backward(Stream s, float* dx, float* dw, const float* dout, const float* x,
                      const float* w, const float* rstd, int64_t N, int64_t C, float* partial);

// bias.cu. partial as for rmsnorm_backward, with M columns.
void bias_forward(Stream s, float* x, const float* b, int64_t N, int64_t M);
void bias_backward(Stream s, float* db, const float* dout, int64_t N, int64_t M,
                   float* partial);

// rope.cu. sign +1 rotates (forward), -1 rotates back (backward).
void rope_tables(Stream s, float* cos, float* sin, const int32_t* pos, const float* inv_freq,
                 int64_t N, int64_t half);
void rope_rotate(Stream s, float* qkv, const float* cos, const float* sin, int64_t N,
                 int64_t NH, int64_t NKV, int64_t HS, float sign);

// swiglu.cu
void swiglu_forward(Stream s, float* h, const float* gu, int64_t N, int64_t H);
void swiglu_backward(Stream s, float* dgu, const float* dh, const float* gu, int64_t N,
                     int64_t H);

// attention.cu. state holds lse[B, NH, T] then the backward's row dots D[B, NH, T]. Both
// return the floating-point operations of the score and value products they did.
struct AttentionShape {
  int64_t B, T, NH, NKV, HS, window;
};
int64_t attention_state_elements(int64_t B, int64_t T, int64_t NH);
// Dynamic shared memory the attention kernels need for a head size (bytes).
int64_t attention_shared_bytes(int64_t HS);
double attention_forward(Stream s, float* att, float* state, const float* qkv,
                         const int32_t* mask, const AttentionShape& shape);
double attention_backward(Stream s, float* dqkv, const float* datt, const float* qkv,
                          const float* att, float* state, const int32_t* mask,
                          const AttentionShape& shape);

// logprob.cu: over logits[R, V], one row per block.
void logprob_forward(Stream s, float* logp, float* lse, const float* logits,
                     const int32_t* targets, int64_t R, int64_t V);
void logprob_backward(Stream s, float* logits, const float* lse, const int32_t* targets,
                      const float* dlogp, int64_t R, int64_t V);

// adamw.cu. The step's constants come rounded to float exactly as the CPU kernel rounds them.
// shadow, when not null, receives the updated parameters in bfloat16. sum_squares writes the
// total to *out (device) through partial[sum_squares_partials(n)].
struct AdamwStep {
  float decay, beta1, beta2, step, inv_sqrt_bc2, eps, grad_scale;
};
void adamw_update(Stream s, float* p, const float* g, float* m, float* v, Bf16* shadow,
                  int64_t n, const AdamwStep& step);
int64_t sum_squares_partials(int64_t n);
void sum_squares(Stream s, double* out, double* partial, const float* x, int64_t n);

// init.cu: the counter-based normal draws of ops/counter_rng.h.
void normal_init(Stream s, float* x, int64_t n, double std_dev, uint64_t seed,
                 uint64_t offset);

}  // namespace delta::cuda
