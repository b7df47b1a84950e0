// Causal grouped-query self-attention with a key mask and an optional sliding window, forward
// and backward, tiled in the manner of FlashAttention (Dao et al. 2022; the backward split as
// in FlashAttention-2): a block owns a 64-row tile and streams 64-key tiles through shared
// memory with an online softmax, so no T x T matrix is ever stored. The forward keeps one
// log-sum-exp per row; the backward recomputes the scores. Everything is float (the softmax,
// and the score and value products, on CUDA cores rather than tensor cores).
//
// Query t of a sequence attends to key j when both are unmasked, j <= t and, with a window
// W > 0, t - j < W: the CPU kernel's rule. A masked query gets a zero output and gradient.
// The backward runs without atomics: one kernel owns a key tile (dk, dv over every query head
// of its group), another a query tile (dq), so its sums are deterministic.
#include <string>
#include <type_traits>

#include "cuda/check.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace delta::cuda {

namespace {

constexpr int kTile = 64;            // query rows and key columns of a tile
constexpr int kSide = 16;            // 16 x 16 threads; each owns kPer x kPer of a tile
constexpr int kPer = kTile / kSide;  // 4
constexpr int kBlock = kSide * kSide;
constexpr int kScoreLd = kTile + 1;  // row stride of a score tile in shared memory

// Sizes shared by the kernels. Row n = b * T + t of qkv holds q heads, then k, then v.
struct Dims {
  int64_t B, T, NH, NKV, HS, window;
  int64_t QD, KVD, QKV, group;
  float scale;
};

Dims dims_of(const AttentionShape& s) {
  Dims d;
  d.B = s.B;
  d.T = s.T;
  d.NH = s.NH;
  d.NKV = s.NKV;
  d.HS = s.HS;
  d.window = s.window;
  d.QD = s.NH * s.HS;
  d.KVD = s.NKV * s.HS;
  d.QKV = d.QD + 2 * d.KVD;
  d.group = s.NH / s.NKV;
  d.scale = static_cast<float>(1.0 / sqrt(static_cast<double>(s.HS)));
  return d;
}

// Whether query t may attend to key j, both positions in sequence row `mask` of length T.
__device__ inline bool visible(int64_t t, int64_t j, const int32_t* mask, const Dims& d) {
  return t < d.T && j <= t && (d.window <= 0 || t - j < d.window) && mask[j] != 0 &&
         mask[t] != 0;
}

// The keys a query tile starting at q0 can see: [first, end).
__device__ inline int64_t first_key(int64_t q0, const Dims& d) {
  return d.window > 0 ? max(int64_t{0}, q0 - d.window + 1) : 0;
}
__device__ inline int64_t key_end(int64_t q0, const Dims& d) { return min(d.T, q0 + kTile); }

// Copies rows [row0, row0 + kTile) of a head (columns col .. col + HS of rows with stride
// `stride`) into a shared tile with row stride HS + 1; rows at or past `limit` become zeros.
__device__ inline void load_tile(float* tile, const float* base, int64_t stride, int64_t col,
                                 int64_t row0, int64_t limit, int HS) {
  const int ld = HS + 1;
  for (int i = threadIdx.x; i < kTile * HS; i += kBlock) {
    const int r = i / HS, c = i % HS;
    const int64_t row = row0 + r;
    tile[r * ld + c] = row < limit ? base[row * stride + col + c] : 0.0f;
  }
}

// Per-row values (log-sum-exps, row dots) of a tile, zero past T.
__device__ inline void load_rows(float* dst, const float* src, int64_t row0, int64_t T) {
  for (int i = threadIdx.x; i < kTile; i += kBlock) {
    dst[i] = row0 + i < T ? src[row0 + i] : 0.0f;
  }
}

// acc[i][j] = sum over d < HS of a[row i][d] * b[row j][d] for the thread's rows ty + 16 i of
// tile a and rows tx + 16 j of tile b (both with row stride HS + 1).
__device__ inline void tile_dot(float (&acc)[kPer][kPer], const float* a, const float* b,
                                int HS, int ty, int tx) {
  const int ld = HS + 1;
  #pragma unroll
  for (int i = 0; i < kPer; i++) {
    #pragma unroll
    for (int j = 0; j < kPer; j++) acc[i][j] = 0.0f;
  }
  for (int k = 0; k < HS; k++) {
    float av[kPer], bv[kPer];
    #pragma unroll
    for (int i = 0; i < kPer; i++) av[i] = a[(ty + kSide * i) * ld + k];
    #pragma unroll
    for (int j = 0; j < kPer; j++) bv[j] = b[(tx + kSide * j) * ld + k];
    #pragma unroll
    for (int i = 0; i < kPer; i++) {
      #pragma unroll
      for (int j = 0; j < kPer; j++) acc[i][j] += av[i] * bv[j];
    }
  }
}

// out[i][c] += sum over r < kTile of w[r][row i] (or w[row i][r] when !kTransposed) times
// v[r][column c], for the thread's rows ty + 16 i and columns tx + 16 c (c < HS). w is a score
// tile (row stride kScoreLd), v a head tile (row stride HS + 1).
template <int kCols, bool kTransposed>
__device__ inline void tile_accumulate(float (&out)[kPer][kCols], const float* w,
                                       const float* v, int HS, int ty, int tx) {
  const int ld = HS + 1;
  for (int r = 0; r < kTile; r++) {
    float wv[kPer];
    #pragma unroll
    for (int i = 0; i < kPer; i++) {
      const int row = ty + kSide * i;
      wv[i] = kTransposed ? w[r * kScoreLd + row] : w[row * kScoreLd + r];
    }
    #pragma unroll
    for (int c = 0; c < kCols; c++) {
      const int col = tx + kSide * c;
      const float x = col < HS ? v[r * ld + col] : 0.0f;
      #pragma unroll
      for (int i = 0; i < kPer; i++) out[i][c] += wv[i] * x;
    }
  }
}

// Max and sum over the 16 threads of a row group (lanes that share ty within a warp).
__device__ inline float row_max(float v) {
  for (int o = kSide / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}
__device__ inline float row_sum(float v) {
  for (int o = kSide / 2; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// Grid (query tiles, NH, B). Writes att and lse[b, h, t] (0 for masked rows).
template <int kMaxHS>
__global__ void __launch_bounds__(kBlock)
    attention_forward_kernel(float* att, float* lse, const float* qkv, const int32_t* mask,
                             Dims d) {
  constexpr int kCols = kMaxHS / kSide;
  extern __shared__ float smem[];
  const int HS = static_cast<int>(d.HS), ld = HS + 1;
  float* qs = smem;
  float* ks = qs + kTile * ld;
  float* vs = ks + kTile * ld;
  float* ps = vs + kTile * ld;

  const int tx = threadIdx.x % kSide, ty = threadIdx.x / kSide;
  const int64_t q0 = int64_t{blockIdx.x} * kTile, h = blockIdx.y, b = blockIdx.z;
  const int64_t g = h / d.group;
  const int32_t* m = mask + b * d.T;
  const float* rows = qkv + b * d.T * d.QKV;
  load_tile(qs, rows, d.QKV, h * HS, q0, d.T, HS);

  float row_m[kPer], row_l[kPer], o[kPer][kCols];
  #pragma unroll
  for (int i = 0; i < kPer; i++) {
    row_m[i] = -INFINITY;
    row_l[i] = 0.0f;
    #pragma unroll
    for (int c = 0; c < kCols; c++) o[i][c] = 0.0f;
  }

  const int64_t k_end = key_end(q0, d);
  for (int64_t k0 = first_key(q0, d); k0 < k_end; k0 += kTile) {
    __syncthreads();  // the previous tile's keys, values and probabilities are consumed
    load_tile(ks, rows, d.QKV, d.QD + g * HS, k0, k_end, HS);
    load_tile(vs, rows, d.QKV, d.QD + d.KVD + g * HS, k0, k_end, HS);
    __syncthreads();

    float s[kPer][kPer];
    tile_dot(s, qs, ks, HS, ty, tx);
    #pragma unroll
    for (int i = 0; i < kPer; i++) {
      const int64_t t = q0 + ty + kSide * i;
      float mx = -INFINITY;
      #pragma unroll
      for (int j = 0; j < kPer; j++) {
        const int64_t key = k0 + tx + kSide * j;
        s[i][j] = key < k_end && visible(t, key, m, d) ? s[i][j] * d.scale : -INFINITY;
        mx = fmaxf(mx, s[i][j]);
      }
      const float m_new = fmaxf(row_m[i], row_max(mx));
      // Rows with nothing visible yet keep m = -inf, l = 0 and a zero output.
      const float alpha = row_m[i] == -INFINITY ? 0.0f : expf(row_m[i] - m_new);
      float sum = 0.0f;
      #pragma unroll
      for (int j = 0; j < kPer; j++) {
        const float p = s[i][j] == -INFINITY ? 0.0f : expf(s[i][j] - m_new);
        ps[(ty + kSide * i) * kScoreLd + tx + kSide * j] = p;
        sum += p;
      }
      row_l[i] = row_l[i] * alpha + row_sum(sum);
      row_m[i] = m_new;
      #pragma unroll
      for (int c = 0; c < kCols; c++) o[i][c] *= alpha;
    }
    __syncthreads();
    tile_accumulate<kCols, false>(o, ps, vs, HS, ty, tx);
  }

  #pragma unroll
  for (int i = 0; i < kPer; i++) {
    const int64_t t = q0 + ty + kSide * i;
    if (t >= d.T) continue;
    const bool seen = row_l[i] > 0.0f;
    const float inv = seen ? 1.0f / row_l[i] : 0.0f;
    float* y = att + (b * d.T + t) * d.QD + h * HS;
    #pragma unroll
    for (int c = 0; c < kCols; c++) {
      const int col = tx + kSide * c;
      if (col < HS) y[col] = o[i][c] * inv;
    }
    if (tx == 0) lse[(b * d.NH + h) * d.T + t] = seen ? row_m[i] + logf(row_l[i]) : 0.0f;
  }
}

// D[b, h, t] = sum over the head's columns of datt * att (one warp per row and head).
__global__ void attention_row_dot_kernel(float* D, const float* datt, const float* att,
                                         Dims d) {
  const int64_t warps = d.B * d.T * d.NH;
  const int lane = threadIdx.x & 31;
  for (int64_t w = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) >> 5; w < warps;
       w += (int64_t{gridDim.x} * blockDim.x) >> 5) {
    const int64_t h = w % d.NH, n = w / d.NH;  // n = b * T + t
    const float* dy = datt + n * d.QD + h * d.HS;
    const float* y = att + n * d.QD + h * d.HS;
    float acc = 0.0f;
    for (int64_t c = lane; c < d.HS; c += 32) acc += dy[c] * y[c];
    acc = warp_sum(acc);
    if (lane == 0) D[((n / d.T) * d.NH + h) * d.T + n % d.T] = acc;
  }
}

// The probabilities p = exp(s - lse) and their gradients ds = p * (dp - D) of a query tile
// (rows ty + 16 i, from qs, dos, lse_s, d_s) against a key tile (columns tx + 16 j).
__device__ inline void tile_gradients(float (&p)[kPer][kPer], float (&ds)[kPer][kPer],
                                      const float* qs, const float* dos, const float* ks,
                                      const float* vs, const float* lse_s, const float* d_s,
                                      int64_t q0, int64_t k0, int64_t k_limit,
                                      const int32_t* m, const Dims& d, int ty, int tx) {
  const int HS = static_cast<int>(d.HS);
  float dp[kPer][kPer];
  tile_dot(p, qs, ks, HS, ty, tx);
  tile_dot(dp, dos, vs, HS, ty, tx);
  #pragma unroll
  for (int i = 0; i < kPer; i++) {
    const int r = ty + kSide * i;
    const int64_t t = q0 + r;
    #pragma unroll
    for (int j = 0; j < kPer; j++) {
      const int64_t key = k0 + tx + kSide * j;
      const bool on = key < k_limit && visible(t, key, m, d);
      p[i][j] = on ? expf(p[i][j] * d.scale - lse_s[r]) : 0.0f;
      ds[i][j] = p[i][j] * (dp[i][j] - d_s[r]);
    }
  }
}

// Grid (key tiles, NKV, B): dk and dv of a key tile over every query head of its group.
template <int kMaxHS>
__global__ void __launch_bounds__(kBlock)
    attention_backward_kv_kernel(float* dqkv, const float* datt, const float* qkv,
                                 const float* lse, const float* D, const int32_t* mask, Dims d) {
  constexpr int kCols = kMaxHS / kSide;
  extern __shared__ float smem[];
  const int HS = static_cast<int>(d.HS), ld = HS + 1;
  float* ks = smem;
  float* vs = ks + kTile * ld;
  float* qs = vs + kTile * ld;
  float* dos = qs + kTile * ld;
  float* ws = dos + kTile * ld;  // probabilities, then their gradients
  float* lse_s = ws + kTile * kScoreLd;
  float* d_s = lse_s + kTile;

  const int tx = threadIdx.x % kSide, ty = threadIdx.x / kSide;
  const int64_t k0 = int64_t{blockIdx.x} * kTile, g = blockIdx.y, b = blockIdx.z;
  const int32_t* m = mask + b * d.T;
  const float* rows = qkv + b * d.T * d.QKV;
  const float* dy = datt + b * d.T * d.QD;
  load_tile(ks, rows, d.QKV, d.QD + g * HS, k0, d.T, HS);
  load_tile(vs, rows, d.QKV, d.QD + d.KVD + g * HS, k0, d.T, HS);

  float dk[kPer][kCols], dv[kPer][kCols];
  #pragma unroll
  for (int i = 0; i < kPer; i++) {
    #pragma unroll
    for (int c = 0; c < kCols; c++) dk[i][c] = dv[i][c] = 0.0f;
  }

  // Queries that see a key of this tile: t >= k0 and, with a window, t < k0 + kTile - 1 + W.
  const int64_t q_end = d.window > 0 ? min(d.T, k0 + kTile - 1 + d.window) : d.T;
  for (int64_t h = g * d.group; h < (g + 1) * d.group; h++) {
    const float* head_lse = lse + (b * d.NH + h) * d.T;
    const float* head_d = D + (b * d.NH + h) * d.T;
    for (int64_t q0 = k0; q0 < q_end; q0 += kTile) {
      __syncthreads();  // the previous query tile is consumed
      load_tile(qs, rows, d.QKV, h * HS, q0, d.T, HS);
      load_tile(dos, dy, d.QD, h * HS, q0, d.T, HS);
      load_rows(lse_s, head_lse, q0, d.T);
      load_rows(d_s, head_d, q0, d.T);
      __syncthreads();

      float p[kPer][kPer], ds[kPer][kPer];
      tile_gradients(p, ds, qs, dos, ks, vs, lse_s, d_s, q0, k0, d.T, m, d, ty, tx);
      #pragma unroll
      for (int i = 0; i < kPer; i++) {
        #pragma unroll
        for (int j = 0; j < kPer; j++) ws[(ty + kSide * i) * kScoreLd + tx + kSide * j] = p[i][j];
      }
      __syncthreads();
      tile_accumulate<kCols, true>(dv, ws, dos, HS, ty, tx);  // dv += p^T do
      __syncthreads();
      #pragma unroll
      for (int i = 0; i < kPer; i++) {
        #pragma unroll
        for (int j = 0; j < kPer; j++) ws[(ty + kSide * i) * kScoreLd + tx + kSide * j] = ds[i][j];
      }
      __syncthreads();
      tile_accumulate<kCols, true>(dk, ws, qs, HS, ty, tx);  // dk += ds^T q
    }
  }

  #pragma unroll
  for (int i = 0; i < kPer; i++) {
    const int64_t key = k0 + ty + kSide * i;
    if (key >= d.T) continue;
    float* out = dqkv + (b * d.T + key) * d.QKV + d.QD + g * HS;
    #pragma unroll
    for (int c = 0; c < kCols; c++) {
      const int col = tx + kSide * c;
      if (col < HS) {
        out[col] = dk[i][c] * d.scale;
        out[d.KVD + col] = dv[i][c];
      }
    }
  }
}

// Grid (query tiles, NH, B): dq of a query tile from every key tile it sees.
template <int kMaxHS>
__global__ void __launch_bounds__(kBlock)
    attention_backward_q_kernel(float* dqkv, const float* datt, const float* qkv,
                                const float* lse, const float* D, const int32_t* mask, Dims d) {
  constexpr int kCols = kMaxHS / kSide;
  extern __shared__ float smem[];
  const int HS = static_cast<int>(d.HS), ld = HS + 1;
  float* qs = smem;
  float* dos = qs + kTile * ld;
  float* ks = dos + kTile * ld;
  float* vs = ks + kTile * ld;
  float* ws = vs + kTile * ld;
  float* lse_s = ws + kTile * kScoreLd;
  float* d_s = lse_s + kTile;

  const int tx = threadIdx.x % kSide, ty = threadIdx.x / kSide;
  const int64_t q0 = int64_t{blockIdx.x} * kTile, h = blockIdx.y, b = blockIdx.z;
  const int64_t g = h / d.group;
  const int32_t* m = mask + b * d.T;
  const float* rows = qkv + b * d.T * d.QKV;
  load_tile(qs, rows, d.QKV, h * HS, q0, d.T, HS);
  load_tile(dos, datt + b * d.T * d.QD, d.QD, h * HS, q0, d.T, HS);
  load_rows(lse_s, lse + (b * d.NH + h) * d.T, q0, d.T);
  load_rows(d_s, D + (b * d.NH + h) * d.T, q0, d.T);

  float dq[kPer][kCols];
  #pragma unroll
  for (int i = 0; i < kPer; i++) {
    #pragma unroll
    for (int c = 0; c < kCols; c++) dq[i][c] = 0.0f;
  }

  const int64_t k_end = key_end(q0, d);
  for (int64_t k0 = first_key(q0, d); k0 < k_end; k0 += kTile) {
    __syncthreads();  // the previous key tile and gradients are consumed
    load_tile(ks, rows, d.QKV, d.QD + g * HS, k0, k_end, HS);
    load_tile(vs, rows, d.QKV, d.QD + d.KVD + g * HS, k0, k_end, HS);
    __syncthreads();

    float p[kPer][kPer], ds[kPer][kPer];
    tile_gradients(p, ds, qs, dos, ks, vs, lse_s, d_s, q0, k0, k_end, m, d, ty, tx);
    #pragma unroll
    for (int i = 0; i < kPer; i++) {
      #pragma unroll
      for (int j = 0; j < kPer; j++) ws[(ty + kSide * i) * kScoreLd + tx + kSide * j] = ds[i][j];
    }
    __syncthreads();
    tile_accumulate<kCols, false>(dq, ws, ks, HS, ty, tx);  // dq += ds k
  }

  #pragma unroll
  for (int i = 0; i < kPer; i++) {
    const int64_t t = q0 + ty + kSide * i;
    if (t >= d.T) continue;
    float* out = dqkv + (b * d.T + t) * d.QKV + h * HS;
    #pragma unroll
    for (int c = 0; c < kCols; c++) {
      const int col = tx + kSide * c;
      if (col < HS) out[col] = dq[i][c] * d.scale;
    }
  }
}

int64_t forward_shared_floats(int64_t HS) { return 3 * kTile * (HS + 1) + kTile * kScoreLd; }
int64_t backward_shared_floats(int64_t HS) {
  return 4 * kTile * (HS + 1) + kTile * kScoreLd + 2 * kTile;
}

// Score pairs (query, key) the tiles of one sequence and head visit, for the FLOP count.
double tile_pairs(const Dims& d) {
  double pairs = 0;
  for (int64_t q0 = 0; q0 < d.T; q0 += kTile) {
    const int64_t first = d.window > 0 ? std::max<int64_t>(0, q0 - d.window + 1) : 0;
    const int64_t end = std::min(d.T, q0 + kTile);
    pairs += static_cast<double>(std::min<int64_t>(kTile, d.T - q0)) * (end - first);
  }
  return pairs;
}

void check_shape(const Dims& d, int64_t shared_bytes) {
  if (d.HS > 128 || d.HS < 1) {
    fail(ErrorCode::kInvalidConfig, "the CUDA attention supports head sizes up to 128, not " +
                                        std::to_string(d.HS));
  }
  int device = 0, limit = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "cudaDeviceGetAttribute");
  if (shared_bytes > limit) {
    fail(ErrorCode::kInvalidConfig,
         "the CUDA attention for head size " + std::to_string(d.HS) + " needs " +
             std::to_string(shared_bytes) + " bytes of shared memory per block; this device " +
             "allows " + std::to_string(limit));
  }
}

// Launches kernel<64> for head sizes up to 64, kernel<128> above.
template <typename Launch>
void by_head_size(int64_t HS, Launch launch) {
  if (HS <= 64) {
    launch(std::integral_constant<int, 64>{});
  } else {
    launch(std::integral_constant<int, 128>{});
  }
}

}  // namespace

int64_t attention_state_elements(int64_t B, int64_t T, int64_t NH) { return 2 * B * NH * T; }

int64_t attention_shared_bytes(int64_t HS) {
  return static_cast<int64_t>(sizeof(float)) *
         std::max(forward_shared_floats(HS), backward_shared_floats(HS));
}

double attention_forward(Stream s, float* att, float* state, const float* qkv,
                         const int32_t* mask, const AttentionShape& shape) {
  const Dims d = dims_of(shape);
  if (d.B <= 0 || d.T <= 0) return 0;
  const int64_t bytes = sizeof(float) * forward_shared_floats(d.HS);
  check_shape(d, bytes);
  const dim3 grid(static_cast<unsigned>((d.T + kTile - 1) / kTile), static_cast<unsigned>(d.NH),
                  static_cast<unsigned>(d.B));
  by_head_size(d.HS, [&](auto hs) {
    auto kernel = attention_forward_kernel<decltype(hs)::value>;
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(bytes)),
          "cudaFuncSetAttribute");
    kernel<<<grid, kBlock, bytes, s>>>(att, state, qkv, mask, d);
  });
  check_launch("attention_forward");
  return 4.0 * tile_pairs(d) * d.HS * d.B * d.NH;
}

double attention_backward(Stream s, float* dqkv, const float* datt, const float* qkv,
                          const float* att, float* state, const int32_t* mask,
                          const AttentionShape& shape) {
  const Dims d = dims_of(shape);
  if (d.B <= 0 || d.T <= 0) return 0;
  const int64_t bytes = sizeof(float) * backward_shared_floats(d.HS);
  check_shape(d, bytes);
  const float* lse = state;
  float* D = state + d.B * d.NH * d.T;

  const int64_t warps = d.B * d.T * d.NH;
  attention_row_dot_kernel<<<grid_for(warps * 32), kThreads, 0, s>>>(D, datt, att, d);
  check_launch("attention_backward (row dots)");

  const unsigned tiles = static_cast<unsigned>((d.T + kTile - 1) / kTile);
  by_head_size(d.HS, [&](auto hs) {
    auto kv = attention_backward_kv_kernel<decltype(hs)::value>;
    auto q = attention_backward_q_kernel<decltype(hs)::value>;
    for (auto kernel : {kv, q}) {
      check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(bytes)),
            "cudaFuncSetAttribute");
    }
    kv<<<dim3(tiles, static_cast<unsigned>(d.NKV), static_cast<unsigned>(d.B)), kBlock, bytes,
         s>>>(dqkv, datt, qkv, lse, D, mask, d);
    check_launch("attention_backward (keys and values)");
    q<<<dim3(tiles, static_cast<unsigned>(d.NH), static_cast<unsigned>(d.B)), kBlock, bytes,
        s>>>(dqkv, datt, qkv, lse, D, mask, d);
    check_launch("attention_backward (queries)");
  });
  return 8.0 * tile_pairs(d) * d.HS * d.B * d.NH;
}

}  // namespace delta::cuda
