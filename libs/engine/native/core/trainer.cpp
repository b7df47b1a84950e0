// Trainer::step: validation first (nothing runs on a bad batch), then per micro-batch the
// forward, the per-sequence log-prob sums, the loss derivatives scaled by the batch totals
// (so accumulation is exact) and the backward, then clipping and AdamW.
#include "core/trainer.h"

#include <chrono>
#include <cmath>
#include <string>

#include "core/error.h"

namespace delta {

template <typename F>
Trainer<F>::Trainer(Model<F>& model, const TrainerConfig& config)
    : model_(model),
      backend_(model.shared_backend()),
      config_(config),
      preference_(config.loss.type != LossType::kSft),
      ws_(model.backend(), model.dims(),
          WorkspacePlan{config.max_micro_sequences, config.max_length, true,
                        config.logits_budget_elements, config.recompute}) {
  validate_loss(config.loss);
  validate_schedule(config.schedule);
  const OptimizerConfig& o = config.optimizer;
  if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1)) {
    fail(ErrorCode::kInvalidConfig, "optimizer.betas must be in [0, 1)");
  }
  if (!(o.eps > 0)) fail(ErrorCode::kInvalidConfig, "optimizer.eps must be positive");
  if (o.weight_decay < 0) fail(ErrorCode::kInvalidConfig, "optimizer.weightDecay must be >= 0");
  if (o.max_grad_norm < 0) fail(ErrorCode::kInvalidConfig, "optimizer.maxGradNorm must be >= 0");
  if (preference_ && config.max_micro_sequences % 2 != 0) {
    fail(ErrorCode::kInvalidConfig, "a preference micro-batch holds pairs: its sequence "
                                    "capacity must be even");
  }

  const int64_t P = model.num_params();
  bytes_ = sizeof(F) * 3 * static_cast<size_t>(P);
  arena_ = model.backend().alloc(bytes_);
  grads_ = static_cast<F*>(arena_);
  m_ = grads_ + P;
  v_ = m_ + P;
  model.backend().zero(arena_, bytes_);

  const int64_t Ncap = config.max_micro_sequences * config.max_length;
  logp_host_.resize(Ncap);
  dlogp_host_.resize(Ncap);
  seq_sum_.resize(config.max_micro_sequences);
  seq_count_.resize(config.max_micro_sequences);
}

template <typename F>
Trainer<F>::~Trainer() {
  backend_->release(arena_);
}

template <typename F>
void Trainer<F>::validate(const StepInput& in, int64_t* pairs, int64_t* loss_tokens,
                          int64_t* chosen_tokens) const {
  if (in.micro.empty()) fail(ErrorCode::kInvalidArgument, "the step has no micro-batches");
  *pairs = *loss_tokens = *chosen_tokens = 0;
  int64_t pair = 0;
  for (size_t k = 0; k < in.micro.size(); k++) {
    const HostBatch& b = in.micro[k];
    auto mb = [k] { return "micro-batch " + std::to_string(k); };
    if (b.targets == nullptr) fail(ErrorCode::kInvalidArgument, mb() + " has no targets");
    if (b.B > config_.max_micro_sequences || b.T > config_.max_length) {
      fail(ErrorCode::kInvalidArgument,
           mb() + " is [" + std::to_string(b.B) + ", " + std::to_string(b.T) +
               "], more than the trainer's capacity [" +
               std::to_string(config_.max_micro_sequences) + ", " +
               std::to_string(config_.max_length) + "]");
    }
    model_.validate(b);
    if (preference_ && b.B % 2 != 0) {
      fail(ErrorCode::kInvalidArgument, mb() + " has an odd number of sequences; pairs expected");
    }
    for (int64_t s = 0; s < b.B; s++) {
      int64_t n = 0;
      for (int64_t t = 0; t < b.T; t++) n += b.targets[s * b.T + t] >= 0 ? 1 : 0;
      *loss_tokens += n;
      if (!preference_) continue;
      const bool chosen = s % 2 == 0;
      const int64_t p = pair + s / 2;
      if (n == 0) {
        fail(ErrorCode::kInvalidArgument,
             "pair " + std::to_string(p) + ": the " + (chosen ? "chosen" : "rejected") +
                 " response has no tokens (was it truncated away?); an empty response has no "
                 "log-prob to compare and would make a length-normalised loss 0/0");
      }
      if (chosen) *chosen_tokens += n;
      if (needs_reference(config_.loss.type) && in.ref_counts != nullptr &&
          p < in.ref_pairs && in.ref_counts[2 * p + (chosen ? 0 : 1)] != n) {
        fail(ErrorCode::kInvalidArgument,
             "pair " + std::to_string(p) + ": reference log-probs cover " +
                 std::to_string(in.ref_counts[2 * p + (chosen ? 0 : 1)]) + " " +
                 (chosen ? "chosen" : "rejected") + " tokens but the batch has " +
                 std::to_string(n) + "; the reference cache does not match this data");
      }
    }
    pair += b.B / 2;
  }
  if (preference_) {
    *pairs = pair;
    if (needs_reference(config_.loss.type)) {
      if (in.ref == nullptr) {
        fail(ErrorCode::kInvalidArgument, "this loss needs reference log-probs for every pair");
      }
      if (in.ref_pairs != pair) {
        fail(ErrorCode::kInvalidArgument,
             "reference log-probs given for " + std::to_string(in.ref_pairs) +
                 " pairs, the batch has " + std::to_string(pair));
      }
      for (int64_t i = 0; i < 2 * pair; i++) {
        if (!std::isfinite(in.ref[i])) {
          fail(ErrorCode::kInvalidArgument,
               "pair " + std::to_string(i / 2) + ": reference log-prob is not finite");
        }
      }
    }
  } else if (*loss_tokens == 0) {
    fail(ErrorCode::kInvalidArgument, "the SFT batch has no response tokens to train on");
  }
}

template <typename F>
StepMetrics Trainer<F>::step(const StepInput& in, bool apply) {
  const auto start = std::chrono::steady_clock::now();
  const double flops0 = model_.backend().matmul_flops();
  StepMetrics m;
  int64_t pairs, loss_tokens, chosen_tokens;
  validate(in, &pairs, &loss_tokens, &chosen_tokens);
  m.pairs = pairs;
  m.loss_tokens = loss_tokens;

  Backend<F>& be = model_.backend();
  be.enter();
  be.zero(grads_, sizeof(F) * model_.num_params());

  const LossConfig& lc = config_.loss;
  int64_t pair0 = 0;
  double chosen_sum_total = 0;
  for (const HostBatch& b : in.micro) {
    m.sequences += b.B;
    for (int64_t n = 0; n < b.B * b.T; n++) m.tokens += b.mask[n];

    model_.forward(ws_, b);
    model_.logprobs(ws_, logp_host_.data());

    // Per-sequence sums in row order (rows of a sequence are contiguous).
    for (int64_t s = 0; s < b.B; s++) {
      seq_sum_[s] = 0;
      seq_count_[s] = 0;
    }
    int64_t r = 0;
    for (int64_t n = 0; n < b.B * b.T; n++) {
      if (b.targets[n] < 0) continue;
      seq_sum_[n / b.T] += static_cast<double>(logp_host_[r++]);
      seq_count_[n / b.T]++;
    }
    for (int64_t s = 0; s < b.B; s++) {
      if (!std::isfinite(seq_sum_[s])) {
        fail(ErrorCode::kInternal, "sequence " + std::to_string(s) +
                                       " of a micro-batch has a non-finite log-prob; the "
                                       "weights have diverged");
      }
    }

    // d(loss)/d(sequence log-prob sum), divided by the batch totals.
    double* dseq = seq_sum_.data();  // reused in place after reading
    if (!preference_) {
      for (int64_t s = 0; s < b.B; s++) {
        m.loss += -seq_sum_[s] / static_cast<double>(loss_tokens);
        dseq[s] = -1.0 / static_cast<double>(loss_tokens);
      }
    } else {
      for (int64_t i = 0; i < b.B / 2; i++) {
        PairLogps p;
        p.chosen = seq_sum_[2 * i];
        p.rejected = seq_sum_[2 * i + 1];
        p.n_chosen = seq_count_[2 * i];
        p.n_rejected = seq_count_[2 * i + 1];
        if (in.ref != nullptr) {
          p.ref_chosen = in.ref[2 * (pair0 + i)];
          p.ref_rejected = in.ref[2 * (pair0 + i) + 1];
        }
        const PairLoss l = pair_loss(lc, p);
        const double inv_pairs = 1.0 / static_cast<double>(pairs);
        m.loss += l.loss * inv_pairs;
        m.rewards_chosen += l.reward_chosen * inv_pairs;
        m.rewards_rejected += l.reward_rejected * inv_pairs;
        m.rewards_accuracy += (l.reward_chosen > l.reward_rejected ? 1.0 : 0.0) * inv_pairs;
        m.logps_chosen += l.logp_chosen * inv_pairs;
        m.logps_rejected += l.logp_rejected * inv_pairs;
        chosen_sum_total += p.chosen;
        dseq[2 * i] = l.d_chosen * inv_pairs;
        dseq[2 * i + 1] = l.d_rejected * inv_pairs;
        if (lc.nll_alpha > 0) dseq[2 * i] -= lc.nll_alpha / static_cast<double>(chosen_tokens);
      }
      pair0 += b.B / 2;
    }

    r = 0;
    for (int64_t n = 0; n < b.B * b.T; n++) {
      if (b.targets[n] >= 0) dlogp_host_[r++] = static_cast<F>(dseq[n / b.T]);
    }
    model_.backward(ws_, dlogp_host_.data(), grads_);
  }

  if (preference_) {
    m.rewards_margin = m.rewards_chosen - m.rewards_rejected;
    m.nll_chosen = -chosen_sum_total / static_cast<double>(chosen_tokens);
    if (lc.nll_alpha > 0) m.loss += lc.nll_alpha * m.nll_chosen;
  } else {
    m.nll_chosen = m.loss;
  }

  be.enter();
  m.grad_norm = std::sqrt(be.sum_squares(grads_, model_.num_params()));
  m.lr = learning_rate(config_.schedule, step_);
  if (apply) apply_update(m);
  m.step = step_;

  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.tokens_per_second = m.seconds > 0 ? static_cast<double>(m.tokens) / m.seconds : 0;
  m.matmul_flops = be.matmul_flops() - flops0;
  return m;
}

template <typename F>
void Trainer<F>::apply_update(StepMetrics& m) {
  if (!std::isfinite(m.grad_norm)) {
    fail(ErrorCode::kInternal, "the gradient norm is not finite; the update was not applied");
  }
  const OptimizerConfig& o = config_.optimizer;
  double scale = 1.0;
  if (o.max_grad_norm > 0 && m.grad_norm > o.max_grad_norm) {
    scale = o.max_grad_norm / (m.grad_norm + 1e-6);
  }
  const int64_t t = step_ + 1;
  const double bc1 = 1 - std::pow(o.beta1, static_cast<double>(t));
  const double bc2 = 1 - std::pow(o.beta2, static_cast<double>(t));
  Backend<F>& be = model_.backend();
  for (const ParamInfo& p : model_.params()) {
    be.adamw_update(model_.data() + p.offset, grads_ + p.offset, m_ + p.offset, v_ + p.offset,
                    p.size, m.lr, o.beta1, o.beta2, o.eps, p.decay ? o.weight_decay : 0.0,
                    scale, bc1, bc2);
  }
  step_ = t;
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace delta
