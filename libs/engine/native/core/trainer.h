// One optimizer step on a batch split into micro-batches: forward, loss, backward with exact
// gradient accumulation, global-norm clipping, the AdamW update and the step's metrics.
// Gradients, AdamW moments and activations live in one arena allocated at construction.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/loss.h"
#include "core/model.h"
#include "core/schedule.h"
#include "core/workspace.h"

namespace delta {

struct OptimizerConfig {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0;
  double max_grad_norm = 1.0;  // 0 turns clipping off
};

struct TrainerConfig {
  LossConfig loss;
  ScheduleConfig schedule;
  OptimizerConfig optimizer;
  int64_t max_micro_sequences = 2;  // rows of a micro-batch (2 per pair for preference losses)
  int64_t max_length = 512;         // padded length of a micro-batch, at most
  int64_t logits_budget_elements = 64ll << 20;
  bool recompute = false;  // recompute each block's activations in the backward (less memory)
};

// A step's input. For preference losses, sequence 2i of a micro-batch is the chosen side of a
// pair and 2i + 1 its rejected side; pairs are numbered across micro-batches in order.
// ref holds per pair [chosen, rejected] summed reference log-probs and ref_counts the token
// counts they were computed over (null when the loss needs no reference).
struct StepInput {
  std::vector<HostBatch> micro;
  const double* ref = nullptr;
  const int32_t* ref_counts = nullptr;
  int64_t ref_pairs = 0;
};

// Metrics of one optimizer step, averaged over the batch's pairs (or tokens for SFT).
struct StepMetrics {
  int64_t step = 0;
  double loss = 0, grad_norm = 0, lr = 0;
  double rewards_chosen = 0, rewards_rejected = 0, rewards_margin = 0, rewards_accuracy = 0;
  double logps_chosen = 0, logps_rejected = 0, nll_chosen = 0;
  int64_t pairs = 0, sequences = 0, tokens = 0, loss_tokens = 0;
  double seconds = 0, tokens_per_second = 0, matmul_flops = 0;
};

template <typename F>
class Trainer {
 public:
  Trainer(Model<F>& model, const TrainerConfig& config);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Runs the step; with apply == false only the gradients (and metrics) are computed.
  StepMetrics step(const StepInput& input, bool apply);

  const TrainerConfig& config() const { return config_; }
  int64_t steps_done() const { return step_; }
  void set_steps_done(int64_t step) { step_ = step; }
  F* grads() { return grads_; }
  F* exp_avg() { return m_; }
  F* exp_avg_sq() { return v_; }
  size_t arena_bytes() const { return bytes_ + ws_.bytes(); }

 private:
  // Throws EngineError naming the micro-batch, pair or position at fault; returns totals.
  void validate(const StepInput& input, int64_t* pairs, int64_t* loss_tokens,
                int64_t* chosen_tokens) const;
  void apply_update(StepMetrics& m);

  Model<F>& model_;
  // Keeps the backend alive until the arena and workspace are released, whatever order the
  // host destroys the model and the trainer in.
  std::shared_ptr<Backend<F>> backend_;
  TrainerConfig config_;
  bool preference_;
  Workspace<F> ws_;
  void* arena_ = nullptr;
  size_t bytes_ = 0;
  F *grads_ = nullptr, *m_ = nullptr, *v_ = nullptr;
  int64_t step_ = 0;
  std::vector<F> logp_host_, dlogp_host_;
  std::vector<double> seq_sum_;
  std::vector<int64_t> seq_count_;
};

}  // namespace delta
