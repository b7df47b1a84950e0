// The model configuration the engine runs on: the subset of a Hugging Face config.json that
// decides the graph of a Llama-family decoder. Parsing config.json is the TypeScript side's
// job; this file only holds the values and checks that they are consistent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/shapes.h"

namespace delta {

// RoPE frequency scaling: none, "linear" (positions divided by factor) or "llama3"
// (Llama 3.1 style: long wavelengths slowed by factor, a smooth band between).
struct RopeScaling {
  std::string type = "none";
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position = 8192;
};

// The decoder's hyperparameters, named after the Hugging Face keys they come from.
struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;            // 0 means hidden_size / num_heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t sliding_window = 0;      // 0: full causal attention
  bool tie_word_embeddings = false;
  bool qkv_bias = false;           // Qwen2, or Llama with attention_bias
  bool o_bias = false;             // Llama with attention_bias
  bool mlp_bias = false;           // Llama with mlp_bias

  Dims dims() const {
    Dims d;
    d.C = hidden_size;
    d.NH = num_heads;
    d.NKV = num_kv_heads;
    d.HS = head_dim > 0 ? head_dim : (num_heads > 0 ? hidden_size / num_heads : 0);
    d.H = intermediate_size;
    d.V = vocab_size;
    d.L = num_layers;
    return d;
  }

  // Throws EngineError(kInvalidConfig) naming the first inconsistent field.
  void validate() const;

  // The RoPE inverse frequencies [HS/2], with rope_scaling applied.
  std::vector<double> rope_inv_freq() const;
};

}  // namespace delta
