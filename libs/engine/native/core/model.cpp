// The decoder graph: embedding, L blocks of (RMSNorm, attention with RoPE, residual, RMSNorm,
// SwiGLU MLP, residual), final RMSNorm and the lm head, forward and backward, all through
// Backend calls. The lm head runs only on rows that have a target, in chunks of R rows.
// With a recomputing workspace the backward reruns each block's forward before its backward.
#include "core/model.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace delta {

template <typename F>
Model<F>::Model(const ModelConfig& config, std::unique_ptr<Backend<F>> backend)
    : config_(config), backend_(std::move(backend)) {
  config_.validate();
  dims_ = config_.dims();
  plan_params();
  data_ = static_cast<F*>(backend_->alloc(sizeof(F) * (num_params_ + dims_.HS / 2)));
  inv_freq_ = data_ + num_params_;
  backend_->bind_parameters(data_, num_params_);
  backend_->zero(data_, sizeof(F) * num_params_);

  std::vector<double> inv = config_.rope_inv_freq();
  std::vector<F> host(inv.begin(), inv.end());
  backend_->upload(inv_freq_, host.data(), sizeof(F) * host.size());
}

template <typename F>
Model<F>::~Model() {
  backend_->release(data_);
}

template <typename F>
void Model<F>::add_param(const std::string& name, std::vector<int64_t> shape, bool decay) {
  ParamInfo p;
  p.name = name;
  p.shape = std::move(shape);
  p.offset = num_params_;
  p.size = 1;
  for (int64_t s : p.shape) p.size *= s;
  p.decay = decay;
  num_params_ += p.size;
  params_.push_back(std::move(p));
}

template <typename F>
void Model<F>::plan_params() {
  const Dims& d = dims_;
  off_embed_ = num_params_;
  add_param("model.embed_tokens.weight", {d.V, d.C}, true);
  for (int64_t l = 0; l < d.L; l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerOffsets o{};
    o.ln1 = num_params_;
    add_param(p + "input_layernorm.weight", {d.C}, false);
    o.wqkv = num_params_;  // q, k, v rows back to back: one [QKV, C] matrix
    add_param(p + "self_attn.q_proj.weight", {d.QD(), d.C}, true);
    add_param(p + "self_attn.k_proj.weight", {d.KVD(), d.C}, true);
    add_param(p + "self_attn.v_proj.weight", {d.KVD(), d.C}, true);
    o.bqkv = -1;
    if (config_.qkv_bias) {
      o.bqkv = num_params_;
      add_param(p + "self_attn.q_proj.bias", {d.QD()}, false);
      add_param(p + "self_attn.k_proj.bias", {d.KVD()}, false);
      add_param(p + "self_attn.v_proj.bias", {d.KVD()}, false);
    }
    o.wo = num_params_;
    add_param(p + "self_attn.o_proj.weight", {d.C, d.QD()}, true);
    o.bo = -1;
    if (config_.o_bias) {
      o.bo = num_params_;
      add_param(p + "self_attn.o_proj.bias", {d.C}, false);
    }
    o.ln2 = num_params_;
    add_param(p + "post_attention_layernorm.weight", {d.C}, false);
    o.wgu = num_params_;  // gate then up: one [2H, C] matrix
    add_param(p + "mlp.gate_proj.weight", {d.H, d.C}, true);
    add_param(p + "mlp.up_proj.weight", {d.H, d.C}, true);
    o.bgu = -1;
    if (config_.mlp_bias) {
      o.bgu = num_params_;
      add_param(p + "mlp.gate_proj.bias", {d.H}, false);
      add_param(p + "mlp.up_proj.bias", {d.H}, false);
    }
    o.wd = num_params_;
    add_param(p + "mlp.down_proj.weight", {d.C, d.H}, true);
    o.bd = -1;
    if (config_.mlp_bias) {
      o.bd = num_params_;
      add_param(p + "mlp.down_proj.bias", {d.C}, false);
    }
    layers_.push_back(o);
  }
  off_norm_ = num_params_;
  add_param("model.norm.weight", {d.C}, false);
  if (config_.tie_word_embeddings) {
    off_head_ = off_embed_;
  } else {
    off_head_ = num_params_;
    add_param("lm_head.weight", {d.V, d.C}, true);
  }
}

template <typename F>
const ParamInfo& Model<F>::param(const std::string& name) const {
  for (const ParamInfo& p : params_) {
    if (p.name == name) return p;
  }
  fail(ErrorCode::kInvalidArgument, "the model has no parameter named '" + name + "'");
}

template <typename F>
typename Model<F>::Layer Model<F>::layer(F* base, int64_t l) const {
  const LayerOffsets& o = layers_[l];
  auto at = [&](int64_t off) { return off < 0 ? nullptr : base + off; };
  return Layer{at(o.ln1), at(o.wqkv), at(o.bqkv), at(o.wo), at(o.bo),
               at(o.ln2), at(o.wgu),  at(o.bgu),  at(o.wd), at(o.bd)};
}

template <typename F>
void Model<F>::init_random(uint64_t seed, double std) {
  backend_->enter();
  for (const ParamInfo& p : params_) {
    F* x = data_ + p.offset;
    if (p.shape.size() == 2) {
      backend_->normal_init(x, p.size, std, seed, static_cast<uint64_t>(p.offset));
    } else if (p.name.find("layernorm") != std::string::npos ||
               p.name == "model.norm.weight") {
      std::vector<F> ones(p.size, F(1));
      backend_->upload(x, ones.data(), sizeof(F) * p.size);
    } else {
      backend_->zero(x, sizeof(F) * p.size);
    }
  }
}

template <typename F>
void Model<F>::validate(const HostBatch& b) const {
  auto where = [&](int64_t n) {
    return "sequence " + std::to_string(n / b.T) + ", position " + std::to_string(n % b.T);
  };
  if (b.B <= 0 || b.T <= 0) fail(ErrorCode::kInvalidArgument, "the batch is empty");
  for (int64_t n = 0; n < b.B * b.T; n++) {
    if (b.ids[n] < 0 || b.ids[n] >= dims_.V) {
      fail(ErrorCode::kInvalidArgument, "token id " + std::to_string(b.ids[n]) + " at " +
                                            where(n) + " is outside the vocabulary [0, " +
                                            std::to_string(dims_.V) + ")");
    }
    if (b.pos[n] < 0) {
      fail(ErrorCode::kInvalidArgument, "negative position id at " + where(n));
    }
    if (b.mask[n] != 0 && b.mask[n] != 1) {
      fail(ErrorCode::kInvalidArgument, "attention mask at " + where(n) + " is not 0 or 1");
    }
    if (b.targets != nullptr && b.targets[n] != -1) {
      if (b.targets[n] < 0 || b.targets[n] >= dims_.V) {
        fail(ErrorCode::kInvalidArgument,
             "target id at " + where(n) + " is outside the vocabulary");
      }
      if (b.mask[n] == 0) {
        fail(ErrorCode::kInvalidArgument, "target at " + where(n) + " is on a masked position");
      }
    }
  }
}

template <typename F>
void Model<F>::forward(Workspace<F>& ws, const HostBatch& b) {
  const Dims& d = dims_;
  Backend<F>& be = *backend_;
  if (!ws.fits(b.B, b.T)) {
    fail(ErrorCode::kInvalidArgument,
         "batch [" + std::to_string(b.B) + ", " + std::to_string(b.T) +
             "] exceeds the workspace [" + std::to_string(ws.plan().max_B) + ", " +
             std::to_string(ws.plan().max_T) + "]");
  }
  be.enter();
  ws.B = b.B;
  ws.T = b.T;
  ws.N = b.B * b.T;
  const int64_t N = ws.N;

  // Selected rows: those with a target, or every row when no targets are given.
  host_rows_.resize(N);
  host_row_targets_.resize(N);
  int64_t R = 0;
  for (int64_t n = 0; n < N; n++) {
    const int32_t t = b.targets ? b.targets[n] : 0;
    if (t >= 0) {
      host_rows_[R] = static_cast<int32_t>(n);
      host_row_targets_[R] = t;
      R++;
    }
  }
  ws.R = R;
  ws.logits_kept = R <= ws.chunk_rows;
  be.upload(ws.ids, b.ids, sizeof(int32_t) * N);
  be.upload(ws.pos, b.pos, sizeof(int32_t) * N);
  be.upload(ws.mask, b.mask, sizeof(int32_t) * N);
  be.upload(ws.rows, host_rows_.data(), sizeof(int32_t) * R);
  be.upload(ws.row_targets, host_row_targets_.data(), sizeof(int32_t) * R);

  be.rope_tables(ws.cos, ws.sin, ws.pos, inv_freq_, N, d.HS / 2);
  be.embedding_forward(ws.residual(-1), ws.ids, embedding(data_), N, d.C);

  for (int64_t l = 0; l < d.L; l++) forward_layer(ws, l, true);

  be.rmsnorm_forward(ws.xnf, ws.rstdf, ws.residual(d.L - 1), final_norm(data_), N, d.C,
                     config_.rms_norm_eps);
  be.gather_rows(ws.xsel, ws.xnf, ws.rows, R, d.C);
}

template <typename F>
void Model<F>::forward_layer(Workspace<F>& ws, int64_t l, bool to_output) {
  const Dims& d = dims_;
  Backend<F>& be = *backend_;
  const int64_t N = ws.N;
  Layer w = layer(data_, l);
  auto& a = ws.layer(l);
  F* x_in = ws.residual(l - 1);

  be.rmsnorm_forward(ws.xn, a.rstd1, x_in, w.ln1, N, d.C, config_.rms_norm_eps);
  be.matmul(false, true, N, d.QKV(), d.C, F(1), ws.xn, d.C, w.wqkv, d.C, F(0), a.qkv, d.QKV());
  if (w.bqkv) be.bias_forward(a.qkv, w.bqkv, N, d.QKV());
  be.rope_forward(a.qkv, ws.cos, ws.sin, N, d.NH, d.NKV, d.HS);
  be.attention_forward(a.att, a.probs, a.qkv, ws.mask, ws.B, ws.T, d.NH, d.NKV, d.HS,
                       config_.sliding_window);
  be.copy(a.x_mid, x_in, sizeof(F) * N * d.C);
  be.matmul(false, true, N, d.C, d.QD(), F(1), a.att, d.QD(), w.wo, d.QD(), F(1), a.x_mid, d.C);
  if (w.bo) be.bias_forward(a.x_mid, w.bo, N, d.C);

  be.rmsnorm_forward(ws.xn, a.rstd2, a.x_mid, w.ln2, N, d.C, config_.rms_norm_eps);
  be.matmul(false, true, N, 2 * d.H, d.C, F(1), ws.xn, d.C, w.wgu, d.C, F(0), a.gu, 2 * d.H);
  if (w.bgu) be.bias_forward(a.gu, w.bgu, N, 2 * d.H);
  if (!to_output) return;  // a recomputation for the backward needs nothing further

  F* x_out = ws.residual(l);
  be.swiglu_forward(ws.h, a.gu, N, d.H);
  be.copy(x_out, a.x_mid, sizeof(F) * N * d.C);
  be.matmul(false, true, N, d.C, d.H, F(1), ws.h, d.H, w.wd, d.H, F(1), x_out, d.C);
  if (w.bd) be.bias_forward(x_out, w.bd, N, d.C);
}

template <typename F>
void Model<F>::logprobs(Workspace<F>& ws, F* logp_host) {
  const Dims& d = dims_;
  Backend<F>& be = *backend_;
  for (int64_t r0 = 0; r0 < ws.R; r0 += ws.chunk_rows) {
    const int64_t rn = std::min(ws.chunk_rows, ws.R - r0);
    be.matmul(false, true, rn, d.V, d.C, F(1), ws.xsel + r0 * d.C, d.C, lm_head(data_), d.C,
              F(0), ws.logits, d.V);
    be.logprob_forward(ws.logp + r0, ws.lse + r0, ws.logits, ws.row_targets + r0, rn, d.V);
  }
  be.download(logp_host, ws.logp, sizeof(F) * ws.R);
}

template <typename F>
void Model<F>::logits(Workspace<F>& ws, F* out_host) {
  const Dims& d = dims_;
  Backend<F>& be = *backend_;
  for (int64_t r0 = 0; r0 < ws.R; r0 += ws.chunk_rows) {
    const int64_t rn = std::min(ws.chunk_rows, ws.R - r0);
    be.matmul(false, true, rn, d.V, d.C, F(1), ws.xsel + r0 * d.C, d.C, lm_head(data_), d.C,
              F(0), ws.logits, d.V);
    be.download(out_host + r0 * d.V, ws.logits, sizeof(F) * rn * d.V);
  }
}

template <typename F>
void Model<F>::backward(Workspace<F>& ws, const F* dlogp_host, F* grads) {
  const Dims& d = dims_;
  Backend<F>& be = *backend_;
  if (!ws.plan().training) {
    fail(ErrorCode::kInvalidState, "backward needs a workspace planned for training");
  }
  be.enter();
  const int64_t N = ws.N, R = ws.R;
  be.upload(ws.dlogp, dlogp_host, sizeof(F) * R);

  // lm head, chunk by chunk (recomputing the logits when they did not fit one chunk).
  F* dhead = lm_head(grads);
  for (int64_t r0 = 0; r0 < R; r0 += ws.chunk_rows) {
    const int64_t rn = std::min(ws.chunk_rows, R - r0);
    if (!ws.logits_kept) {
      be.matmul(false, true, rn, d.V, d.C, F(1), ws.xsel + r0 * d.C, d.C, lm_head(data_), d.C,
                F(0), ws.logits, d.V);
    }
    be.logprob_backward(ws.logits, ws.lse + r0, ws.row_targets + r0, ws.dlogp + r0, rn, d.V);
    be.matmul(true, false, d.V, d.C, rn, F(1), ws.logits, d.V, ws.xsel + r0 * d.C, d.C, F(1),
              dhead, d.C);
    be.matmul(false, false, rn, d.C, d.V, F(1), ws.logits, d.V, lm_head(data_), d.C, F(0),
              ws.dxsel + r0 * d.C, d.C);
  }
  be.zero(ws.dxn, sizeof(F) * N * d.C);
  be.scatter_rows(ws.dxn, ws.dxsel, ws.rows, R, d.C);
  be.zero(ws.dx, sizeof(F) * N * d.C);
  be.rmsnorm_backward(ws.dx, final_norm(grads), ws.dxn, ws.residual(d.L - 1),
                      final_norm(data_), ws.rstdf, N, d.C);

  // ws.dx holds d(loss)/d(output of layer l) at the top of each iteration.
  for (int64_t l = d.L - 1; l >= 0; l--) {
    Layer w = layer(data_, l);
    Layer g = layer(grads, l);
    auto& a = ws.layer(l);
    F* x_in = ws.residual(l - 1);
    // The forward left the last layer's activations in the shared set; others are recomputed.
    if (ws.recomputes() && l < d.L - 1) forward_layer(ws, l, false);

    // MLP branch: x_out = x_mid + down(swiglu(gate_up(norm(x_mid)))).
    if (g.bd) be.bias_backward(g.bd, ws.dx, N, d.C);
    be.swiglu_forward(ws.h, a.gu, N, d.H);
    be.matmul(true, false, d.C, d.H, N, F(1), ws.dx, d.C, ws.h, d.H, F(1), g.wd, d.H);
    be.matmul(false, false, N, d.H, d.C, F(1), ws.dx, d.C, w.wd, d.H, F(0), ws.dh, d.H);
    be.swiglu_backward(ws.dgu, ws.dh, a.gu, N, d.H);
    if (g.bgu) be.bias_backward(g.bgu, ws.dgu, N, 2 * d.H);
    be.rmsnorm_apply(ws.xn, a.x_mid, w.ln2, a.rstd2, N, d.C);
    be.matmul(true, false, 2 * d.H, d.C, N, F(1), ws.dgu, 2 * d.H, ws.xn, d.C, F(1), g.wgu,
              d.C);
    be.matmul(false, false, N, d.C, 2 * d.H, F(1), ws.dgu, 2 * d.H, w.wgu, d.C, F(0), ws.dxn,
              d.C);
    be.rmsnorm_backward(ws.dx, g.ln2, ws.dxn, a.x_mid, w.ln2, a.rstd2, N, d.C);

    // Attention branch: x_mid = x_in + o_proj(attention(rope(qkv(norm(x_in))))).
    if (g.bo) be.bias_backward(g.bo, ws.dx, N, d.C);
    be.matmul(true, false, d.C, d.QD(), N, F(1), ws.dx, d.C, a.att, d.QD(), F(1), g.wo, d.QD());
    be.matmul(false, false, N, d.QD(), d.C, F(1), ws.dx, d.C, w.wo, d.QD(), F(0), ws.datt,
              d.QD());
    be.attention_backward(ws.dqkv, ws.datt, a.qkv, a.att, a.probs, ws.mask, ws.B, ws.T, d.NH,
                          d.NKV, d.HS, config_.sliding_window);
    be.rope_backward(ws.dqkv, ws.cos, ws.sin, N, d.NH, d.NKV, d.HS);
    if (g.bqkv) be.bias_backward(g.bqkv, ws.dqkv, N, d.QKV());
    be.rmsnorm_apply(ws.xn, x_in, w.ln1, a.rstd1, N, d.C);
    be.matmul(true, false, d.QKV(), d.C, N, F(1), ws.dqkv, d.QKV(), ws.xn, d.C, F(1), g.wqkv,
              d.C);
    be.matmul(false, false, N, d.C, d.QKV(), F(1), ws.dqkv, d.QKV(), w.wqkv, d.C, F(0), ws.dxn,
              d.C);
    be.rmsnorm_backward(ws.dx, g.ln1, ws.dxn, x_in, w.ln1, a.rstd1, N, d.C);
  }

  be.embedding_backward(embedding(grads), ws.dx, ws.ids, N, d.C);
}

template class Model<float>;
template class Model<double>;

}  // namespace delta
