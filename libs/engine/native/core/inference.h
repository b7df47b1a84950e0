// Forward-only use of a model: logits of a batch and per-sequence log-prob sums (the reference
// log-probs of a data set, evaluation log-likelihoods). Its workspace keeps one layer's
// activations and grows only when a larger batch than any before arrives.
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "core/model.h"
#include "core/workspace.h"

namespace delta {

template <typename F>
class Inference {
 public:
  explicit Inference(Model<F>& model) : model_(model) {}

  // out: [B*T, V] logits (host). Rows whose mask is 0 hold unspecified values.
  void logits(const HostBatch& batch, F* out);
  // sums[b], counts[b]: summed log-prob and count of the tokens with a target, per sequence.
  void sequence_logprobs(const HostBatch& batch, double* sums, int32_t* counts);

  size_t workspace_bytes() const { return ws_ ? ws_->bytes() : 0; }

 private:
  Workspace<F>& workspace(int64_t B, int64_t T);

  Model<F>& model_;
  std::unique_ptr<Workspace<F>> ws_;
  std::vector<F> logp_;
};

template <typename F>
Workspace<F>& Inference<F>::workspace(int64_t B, int64_t T) {
  if (!ws_ || !ws_->fits(B, T)) {
    WorkspacePlan plan;
    plan.max_B = ws_ ? std::max(B, ws_->plan().max_B) : B;
    plan.max_T = ws_ ? std::max(T, ws_->plan().max_T) : T;
    ws_.reset();
    ws_ = std::make_unique<Workspace<F>>(model_.backend(), model_.dims(), plan);
  }
  return *ws_;
}

template <typename F>
void Inference<F>::logits(const HostBatch& batch, F* out) {
  model_.validate(batch);
  HostBatch b = batch;
  b.targets = nullptr;
  Workspace<F>& ws = workspace(b.B, b.T);
  model_.forward(ws, b);
  model_.logits(ws, out);
}

template <typename F>
void Inference<F>::sequence_logprobs(const HostBatch& b, double* sums, int32_t* counts) {
  model_.validate(b);
  Workspace<F>& ws = workspace(b.B, b.T);
  model_.forward(ws, b);
  logp_.resize(ws.R);
  model_.logprobs(ws, logp_.data());
  for (int64_t s = 0; s < b.B; s++) {
    sums[s] = 0;
    counts[s] = 0;
  }
  int64_t r = 0;
  for (int64_t n = 0; n < b.B * b.T; n++) {
    if (b.targets[n] < 0) continue;
    sums[n / b.T] += static_cast<double>(logp_[r++]);
    counts[n / b.T]++;
  }
}

}  // namespace delta
