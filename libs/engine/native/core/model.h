// A Llama-family decoder: its parameter layout in one arena (Hugging Face names, with q/k/v
// and gate/up stored back to back so each pair is one fused matrix) and the forward and
// backward graph written against Backend. Batching, losses and optimizers live elsewhere.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/config.h"
#include "core/workspace.h"

namespace delta {

// One named parameter tensor, located by its element offset in the parameter arena.
struct ParamInfo {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0;
  int64_t size = 0;
  bool decay = false;  // weight decay applies (matrices; not norms or biases)
};

// A batch as the host hands it over: row-major [B, T] int32 arrays. targets[n] is the token
// whose log-prob row n predicts, or -1 where no log-prob is wanted (prompt, padding).
struct HostBatch {
  int64_t B = 0, T = 0;
  const int32_t* ids = nullptr;
  const int32_t* pos = nullptr;
  const int32_t* mask = nullptr;
  const int32_t* targets = nullptr;
};

template <typename F>
class Model {
 public:
  Model(const ModelConfig& config, std::unique_ptr<Backend<F>> backend);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  const Dims& dims() const { return dims_; }
  Backend<F>& backend() { return *backend_; }
  // Shared so that objects holding memory of this backend can outlive the model safely.
  std::shared_ptr<Backend<F>> shared_backend() { return backend_; }
  const std::vector<ParamInfo>& params() const { return params_; }
  const ParamInfo& param(const std::string& name) const;
  int64_t num_params() const { return num_params_; }
  F* data() { return data_; }
  const F* inv_freq() const { return inv_freq_; }

  // Hugging Face initialisation: normal(0, std) for matrices, ones for norms, zero biases.
  void init_random(uint64_t seed, double std);

  // Checks ids, positions, masks and targets against the vocabulary and shapes; throws
  // EngineError naming the sequence and position at fault.
  void validate(const HostBatch& batch) const;

  // Forward to the final normalised hidden states (ws.xnf); keeps what backward needs when the
  // workspace was planned for training. Returns the selected rows (targets >= 0) in ws.
  void forward(Workspace<F>& ws, const HostBatch& batch);
  // Token log-probs of the selected rows, in row order, into logp (host, ws.rows_count()).
  void logprobs(Workspace<F>& ws, F* logp_host);
  // Logits of every row into out (host, [B*T, V]).
  void logits(Workspace<F>& ws, F* out_host);
  // Backward from d(loss)/d(logp) of the selected rows (host); adds into grads.
  void backward(Workspace<F>& ws, const F* dlogp_host, F* grads);

  // Pointers of one layer's tensors inside an arena laid out like the parameters.
  struct Layer {
    F *ln1, *wqkv, *bqkv, *wo, *bo, *ln2, *wgu, *bgu, *wd, *bd;
  };
  Layer layer(F* base, int64_t l) const;
  F* embedding(F* base) const { return base + off_embed_; }
  F* final_norm(F* base) const { return base + off_norm_; }
  F* lm_head(F* base) const { return base + off_head_; }

 private:
  struct LayerOffsets {
    int64_t ln1, wqkv, bqkv, wo, bo, ln2, wgu, bgu, wd, bd;  // -1 when absent
  };
  void add_param(const std::string& name, std::vector<int64_t> shape, bool decay);
  // One block from ws.residual(l - 1): its saved activations and, when to_output, the block's
  // output ws.residual(l). Without to_output it stops after the gate/up product, which is all
  // a recomputation for the backward needs.
  void forward_layer(Workspace<F>& ws, int64_t l, bool to_output);
  void plan_params();

  ModelConfig config_;
  Dims dims_;
  std::shared_ptr<Backend<F>> backend_;
  std::vector<ParamInfo> params_;
  std::vector<LayerOffsets> layers_;
  int64_t off_embed_ = 0, off_norm_ = 0, off_head_ = 0;
  int64_t num_params_ = 0;
  F* data_ = nullptr;
  F* inv_freq_ = nullptr;
  std::vector<int32_t> host_rows_, host_row_targets_;
};

}  // namespace delta
