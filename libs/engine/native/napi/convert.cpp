// Argument conversion for the addon (see convert.h).
#include "napi/convert.h"

#include <cmath>

namespace delta::napi {

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Value().Set("code", Napi::String::New(env, code));
  return err;
}

void throw_engine_error(Napi::Env env, const EngineError& e) {
  throw make_error(env, e.code_name(), e.what());
}

namespace {

Napi::Value field(const Napi::Object& obj, const char* path, const char* key) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    fail(ErrorCode::kInvalidConfig, std::string(path) + "." + key + " is missing");
  }
  return v;
}

bool bool_field(const Napi::Object& obj, const char* path, const char* key) {
  Napi::Value v = field(obj, path, key);
  if (!v.IsBoolean()) {
    fail(ErrorCode::kInvalidConfig, std::string(path) + "." + key + " must be a boolean");
  }
  return v.As<Napi::Boolean>().Value();
}

std::string string_field(const Napi::Object& obj, const char* path, const char* key) {
  Napi::Value v = field(obj, path, key);
  if (!v.IsString()) {
    fail(ErrorCode::kInvalidConfig, std::string(path) + "." + key + " must be a string");
  }
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object object_field(const Napi::Object& obj, const char* path, const char* key) {
  Napi::Value v = field(obj, path, key);
  if (!v.IsObject()) {
    fail(ErrorCode::kInvalidConfig, std::string(path) + "." + key + " must be an object");
  }
  return v.As<Napi::Object>();
}

}  // namespace

double number_field(const Napi::Object& obj, const char* path, const char* key) {
  Napi::Value v = field(obj, path, key);
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) {
    fail(ErrorCode::kInvalidConfig, std::string(path) + "." + key + " must be a finite number");
  }
  return v.As<Napi::Number>().DoubleValue();
}

int64_t integer_field(const Napi::Object& obj, const char* path, const char* key) {
  const double d = number_field(obj, path, key);
  if (d != std::floor(d) || std::fabs(d) > 9007199254740991.0) {
    fail(ErrorCode::kInvalidConfig, std::string(path) + "." + key + " must be an integer");
  }
  return static_cast<int64_t>(d);
}

ModelConfig model_config_from(const Napi::Object& o) {
  const char* p = "config";
  ModelConfig c;
  c.vocab_size = integer_field(o, p, "vocabSize");
  c.hidden_size = integer_field(o, p, "hiddenSize");
  c.intermediate_size = integer_field(o, p, "intermediateSize");
  c.num_layers = integer_field(o, p, "numLayers");
  c.num_heads = integer_field(o, p, "numHeads");
  c.num_kv_heads = integer_field(o, p, "numKvHeads");
  c.head_dim = integer_field(o, p, "headDim");
  c.rms_norm_eps = number_field(o, p, "rmsNormEps");
  c.rope_theta = number_field(o, p, "ropeTheta");
  c.sliding_window = integer_field(o, p, "slidingWindow");
  c.tie_word_embeddings = bool_field(o, p, "tieWordEmbeddings");
  c.qkv_bias = bool_field(o, p, "qkvBias");
  c.o_bias = bool_field(o, p, "oBias");
  c.mlp_bias = bool_field(o, p, "mlpBias");
  Napi::Object rs = object_field(o, p, "ropeScaling");
  const char* q = "config.ropeScaling";
  c.rope_scaling.type = string_field(rs, q, "type");
  c.rope_scaling.factor = number_field(rs, q, "factor");
  c.rope_scaling.low_freq_factor = number_field(rs, q, "lowFreqFactor");
  c.rope_scaling.high_freq_factor = number_field(rs, q, "highFreqFactor");
  c.rope_scaling.original_max_position = integer_field(rs, q, "originalMaxPositionEmbeddings");
  c.validate();
  return c;
}

TrainerConfig trainer_config_from(const Napi::Object& o) {
  TrainerConfig c;
  Napi::Object loss = object_field(o, "config", "loss");
  c.loss.type = parse_loss_type(string_field(loss, "loss", "type"));
  c.loss.beta = number_field(loss, "loss", "beta");
  c.loss.label_smoothing = number_field(loss, "loss", "labelSmoothing");
  c.loss.simpo_gamma = number_field(loss, "loss", "simpoGamma");
  c.loss.nll_alpha = number_field(loss, "loss", "nllAlpha");

  Napi::Object opt = object_field(o, "config", "optimizer");
  c.schedule.lr = number_field(opt, "optimizer", "lr");
  c.optimizer.beta1 = number_field(opt, "optimizer", "beta1");
  c.optimizer.beta2 = number_field(opt, "optimizer", "beta2");
  c.optimizer.eps = number_field(opt, "optimizer", "eps");
  c.optimizer.weight_decay = number_field(opt, "optimizer", "weightDecay");
  c.optimizer.max_grad_norm = number_field(opt, "optimizer", "maxGradNorm");

  Napi::Object sch = object_field(o, "config", "schedule");
  c.schedule.type = parse_schedule_type(string_field(sch, "schedule", "type"));
  c.schedule.warmup_steps = integer_field(sch, "schedule", "warmupSteps");
  c.schedule.total_steps = integer_field(sch, "schedule", "totalSteps");
  c.schedule.min_lr_ratio = number_field(sch, "schedule", "minLrRatio");

  c.max_micro_sequences = integer_field(o, "config", "maxMicroSequences");
  c.max_length = integer_field(o, "config", "maxLength");
  c.logits_budget_elements = integer_field(o, "config", "logitsBudgetElements");
  c.recompute = bool_field(o, "config", "recompute");
  if (c.max_micro_sequences < 1 || c.max_length < 1 || c.logits_budget_elements < 1) {
    fail(ErrorCode::kInvalidConfig, "trainer capacity (micro-batch, length, logits budget) "
                                    "must be positive");
  }
  return c;
}

}  // namespace delta::napi
