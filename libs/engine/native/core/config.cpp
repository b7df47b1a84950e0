// Consistency checks and RoPE frequencies for ModelConfig.
#include "core/config.h"

#include <cmath>

namespace delta {

namespace {

void require(bool ok, const std::string& field, const std::string& why) {
  if (!ok) fail(ErrorCode::kInvalidConfig, "config field " + field + ": " + why);
}

}  // namespace

void ModelConfig::validate() const {
  require(vocab_size > 0, "vocab_size", "must be positive");
  require(hidden_size > 0, "hidden_size", "must be positive");
  require(intermediate_size > 0, "intermediate_size", "must be positive");
  require(num_layers > 0, "num_hidden_layers", "must be positive");
  require(num_heads > 0, "num_attention_heads", "must be positive");
  require(num_kv_heads > 0, "num_key_value_heads", "must be positive");
  require(num_heads % num_kv_heads == 0, "num_key_value_heads",
          "must divide num_attention_heads (" + std::to_string(num_heads) + ")");
  if (head_dim == 0) {
    require(hidden_size % num_heads == 0, "hidden_size",
            "must be a multiple of num_attention_heads when head_dim is not given");
  }
  Dims d = dims();
  require(d.HS > 0 && d.HS % 2 == 0, "head_dim", "must be positive and even (RoPE pairs)");
  require(rms_norm_eps > 0, "rms_norm_eps", "must be positive");
  require(rope_theta > 0, "rope_theta", "must be positive");
  require(sliding_window >= 0, "sliding_window", "must be 0 (off) or positive");
  const std::string& t = rope_scaling.type;
  require(t == "none" || t == "linear" || t == "llama3", "rope_scaling.rope_type",
          "'" + t + "' is not supported (supported: linear, llama3)");
  if (t != "none") require(rope_scaling.factor > 0, "rope_scaling.factor", "must be positive");
  if (t == "llama3") {
    require(rope_scaling.high_freq_factor > rope_scaling.low_freq_factor,
            "rope_scaling.high_freq_factor", "must exceed low_freq_factor");
    require(rope_scaling.original_max_position > 0,
            "rope_scaling.original_max_position_embeddings", "must be positive");
  }
}

std::vector<double> ModelConfig::rope_inv_freq() const {
  const int64_t HS = dims().HS;
  std::vector<double> inv(HS / 2);
  for (int64_t i = 0; i < HS / 2; i++) {
    // Rounded to fp32 like the reference implementations, which build the table in fp32.
    inv[i] = static_cast<float>(1.0 / std::pow(rope_theta, static_cast<double>(2 * i) / HS));
  }
  if (rope_scaling.type == "linear") {
    for (double& f : inv) f /= rope_scaling.factor;
  } else if (rope_scaling.type == "llama3") {
    const RopeScaling& s = rope_scaling;
    const double old_ctx = static_cast<double>(s.original_max_position);
    const double low_wavelen = old_ctx / s.low_freq_factor;
    const double high_wavelen = old_ctx / s.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2 * M_PI / f;
      if (wavelen < high_wavelen) continue;  // high frequencies: unchanged
      if (wavelen > low_wavelen) {
        f = f / s.factor;  // low frequencies: slowed down
        continue;
      }
      const double smooth =
          (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      f = (1 - smooth) * f / s.factor + smooth * f;
    }
  }
  for (double& f : inv) f = static_cast<float>(f);
  return inv;
}

}  // namespace delta
