// Losses on sequence log-probs, computed on the host in double: SFT token NLL and the DPO
// family. Each pair's loss comes with its derivatives with respect to the policy's summed
// chosen and rejected log-probs, which the graph turns into per-token gradients.
//
//   sigmoid   DPO, Rafailov et al. 2023: -log s(beta * h), h = policy minus reference margin
//             of summed log-probs; label_smoothing e gives conservative DPO (Mitchell 2023):
//             -(1 - e) log s(beta h) - e log s(-beta h).
//   dpo_norm  the same on mean per-token log-probs (length-normalised DPO, the delta-learning
//             paper's default, Geng et al. 2025).
//   robust    robust DPO (Chowdhury et al. 2024): ((1 - e) l(h) - e l(-h)) / (1 - 2e).
//   ipo       IPO (Azar et al. 2023) on mean log-probs: (h - 1 / (2 beta))^2.
//   hinge     SLiC-style hinge on summed log-probs: max(0, 1 - beta h).
//   simpo     SimPO (Meng et al. 2024), reference-free: -log s(beta (mean_c - mean_r) - gamma).
// nll_alpha adds alpha times the chosen responses' token-mean NLL over the whole batch.
#pragma once

#include <cstdint>
#include <string>

namespace delta {

enum class LossType { kSft, kSigmoid, kDpoNorm, kRobust, kIpo, kHinge, kSimpo };

struct LossConfig {
  LossType type = LossType::kDpoNorm;
  double beta = 0.1;
  double label_smoothing = 0;
  double simpo_gamma = 0;
  double nll_alpha = 0;
};

// Parses the loss names above ("sft" too); throws EngineError for an unknown name.
LossType parse_loss_type(const std::string& name);
// Whether the loss divides log-probs by the response length (needs a non-empty response).
bool length_normalised(LossType type);
// Whether the loss compares against reference log-probs.
bool needs_reference(LossType type);
// Checks beta, label smoothing and the other coefficients for the loss type.
void validate_loss(const LossConfig& config);

// Summed log-probs and response token counts of one pair, policy and reference.
struct PairLogps {
  double chosen = 0, rejected = 0;
  int64_t n_chosen = 0, n_rejected = 0;
  double ref_chosen = 0, ref_rejected = 0;
};

// A pair's loss, its derivatives with respect to the summed policy log-probs, and the
// implicit rewards and log-probs reported as metrics (in the loss's own reduction).
struct PairLoss {
  double loss = 0;
  double d_chosen = 0, d_rejected = 0;
  double reward_chosen = 0, reward_rejected = 0;
  double logp_chosen = 0, logp_rejected = 0;
};

PairLoss pair_loss(const LossConfig& config, const PairLogps& pair);

}  // namespace delta
