// Small helpers shared by the CUDA parity test and benchmark: device buffers owned for a
// scope, error figures, tiny and Qwen-shaped model configs, and random preference batches.
// Nothing here knows which backend it runs on.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/config.h"
#include "core/model.h"

namespace delta::cuda::test {

// Buffers allocated on one backend and released when the scope ends.
class Buffers {
 public:
  explicit Buffers(Backend<float>& be) : be_(be) {}
  ~Buffers() {
    for (void* p : owned_) be_.release(p);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;

  template <typename T>
  T* put(const std::vector<T>& host) {
    T* p = empty<T>(host.size());
    be_.upload(p, host.data(), sizeof(T) * host.size());
    return p;
  }
  template <typename T>
  T* empty(size_t n) {
    void* p = be_.alloc(sizeof(T) * std::max<size_t>(n, 1));
    owned_.push_back(p);
    be_.zero(p, sizeof(T) * std::max<size_t>(n, 1));
    return static_cast<T*>(p);
  }
  template <typename T>
  std::vector<T> get(const T* p, size_t n) {
    std::vector<T> host(n);
    be_.download(host.data(), p, sizeof(T) * n);
    return host;
  }

 private:
  Backend<float>& be_;
  std::vector<void*> owned_;
};

inline std::vector<float> randn(size_t n, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<double> d(0, scale);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(d(rng));
  return v;
}

// max |a - b| / max |b|: the error relative to the reference's largest magnitude.
inline double rel_max(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); i++) {
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

// ||a - b|| / ||b|| over [begin, end).
inline double rel_l2(const std::vector<float>& a, const std::vector<float>& b, size_t begin = 0,
                     size_t end = SIZE_MAX) {
  end = std::min(end, b.size());
  double diff = 0, norm = 0;
  for (size_t i = begin; i < end; i++) {
    const double d = static_cast<double>(a[i]) - b[i];
    diff += d * d;
    norm += static_cast<double>(b[i]) * b[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// Qwen2.5 shapes (from the models' config.json): tied embeddings, q/k/v biases, GQA.
inline ModelConfig qwen_config(int64_t hidden, int64_t intermediate, int64_t layers,
                               int64_t heads, int64_t kv_heads) {
  ModelConfig c;
  c.vocab_size = 151936;
  c.hidden_size = hidden;
  c.intermediate_size = intermediate;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 1000000.0;
  c.tie_word_embeddings = true;
  c.qkv_bias = true;
  return c;
}
inline ModelConfig qwen25_05b() { return qwen_config(896, 4864, 24, 14, 2); }
inline ModelConfig qwen25_15b() { return qwen_config(1536, 8960, 28, 12, 2); }

// A micro-batch of pairs as the trainer takes it: sequence 2i chosen, 2i + 1 rejected.
struct PairBatch {
  int64_t B = 0, T = 0;
  std::vector<int32_t> ids, pos, mask, targets;
  HostBatch host() const {
    return HostBatch{B, T, ids.data(), pos.data(), mask.data(), targets.data()};
  }
  int64_t tokens() const {
    int64_t n = 0;
    for (int32_t m : mask) n += m;
    return n;
  }
  int64_t scored() const {
    int64_t n = 0;
    for (int32_t t : targets) n += t >= 0 ? 1 : 0;
    return n;
  }
};

// Sequence s holds prompt[s] + response[s] random tokens, padded to T on the left when
// left_pad[s] and on the right otherwise; the response tokens are scored.
inline PairBatch make_batch(std::mt19937_64& rng, int64_t V, int64_t T,
                            const std::vector<int64_t>& prompt,
                            const std::vector<int64_t>& response,
                            const std::vector<bool>& left_pad) {
  PairBatch p;
  p.B = static_cast<int64_t>(prompt.size());
  p.T = T;
  p.ids.assign(p.B * T, 0);
  p.pos.assign(p.B * T, 0);
  p.mask.assign(p.B * T, 0);
  p.targets.assign(p.B * T, -1);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(V) - 1);
  for (int64_t s = 0; s < p.B; s++) {
    const int64_t len = prompt[s] + response[s];
    const int64_t pad = left_pad[s] ? T - len : 0;
    for (int64_t t = 0; t < len; t++) {
      const int64_t n = s * T + pad + t;
      p.ids[n] = tok(rng);
      p.pos[n] = static_cast<int32_t>(t);
      p.mask[n] = 1;
    }
    for (int64_t t = prompt[s] - 1; t < len - 1; t++) {
      const int64_t n = s * T + pad + t;
      p.targets[n] = p.ids[n + 1];
    }
  }
  return p;
}

}  // namespace delta::cuda::test
