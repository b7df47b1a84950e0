// The DPO-family pair losses and their derivatives (see loss.h for the formulas).
#include "core/loss.h"

#include <cmath>

#include "core/error.h"

namespace delta {

namespace {

// log(sigmoid(z)) without overflow for large |z|.
double log_sigmoid(double z) {
  return z >= 0 ? -std::log1p(std::exp(-z)) : z - std::log1p(std::exp(z));
}

double sigmoid(double z) {
  return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z));
}

// -(1 - e) log s(z) - e log s(-z) and its derivative in z.
void smoothed(double z, double e, double* loss, double* dz) {
  *loss = -(1 - e) * log_sigmoid(z) - e * log_sigmoid(-z);
  *dz = -(1 - e) * sigmoid(-z) + e * sigmoid(z);
}

}  // namespace

LossType parse_loss_type(const std::string& name) {
  if (name == "sft") return LossType::kSft;
  if (name == "sigmoid") return LossType::kSigmoid;
  if (name == "dpo_norm") return LossType::kDpoNorm;
  if (name == "robust") return LossType::kRobust;
  if (name == "ipo") return LossType::kIpo;
  if (name == "hinge") return LossType::kHinge;
  if (name == "simpo") return LossType::kSimpo;
  fail(ErrorCode::kInvalidConfig, "loss '" + name +
                                      "' is not known (sft, sigmoid, dpo_norm, robust, ipo, "
                                      "hinge, simpo)");
}

bool length_normalised(LossType t) {
  return t == LossType::kDpoNorm || t == LossType::kIpo || t == LossType::kSimpo;
}

bool needs_reference(LossType t) {
  return t != LossType::kSft && t != LossType::kSimpo;
}

void validate_loss(const LossConfig& c) {
  if (c.type != LossType::kSft && !(c.beta > 0)) {
    fail(ErrorCode::kInvalidConfig, "loss.beta must be positive (a zero beta never moves the "
                                    "policy away from the reference)");
  }
  if (c.label_smoothing < 0 || c.label_smoothing >= 0.5) {
    fail(ErrorCode::kInvalidConfig, "loss.labelSmoothing must be in [0, 0.5)");
  }
  if (c.label_smoothing > 0 && (c.type == LossType::kIpo || c.type == LossType::kHinge)) {
    fail(ErrorCode::kInvalidConfig, "loss.labelSmoothing applies to sigmoid, dpo_norm, robust "
                                    "and simpo only");
  }
  if (c.nll_alpha < 0) fail(ErrorCode::kInvalidConfig, "loss.nllAlpha must be >= 0");
}

PairLoss pair_loss(const LossConfig& c, const PairLogps& p) {
  PairLoss out;
  const bool mean = length_normalised(c.type);
  const double nc = mean ? static_cast<double>(p.n_chosen) : 1.0;
  const double nr = mean ? static_cast<double>(p.n_rejected) : 1.0;
  out.logp_chosen = p.chosen / nc;
  out.logp_rejected = p.rejected / nr;

  // Log-ratios against the reference (SimPO has none), in the loss's reduction.
  const bool ref = needs_reference(c.type);
  const double lc = out.logp_chosen - (ref ? p.ref_chosen / nc : 0);
  const double lr = out.logp_rejected - (ref ? p.ref_rejected / nr : 0);
  const double h = lc - lr;
  out.reward_chosen = c.beta * lc;
  out.reward_rejected = c.beta * lr;

  double dh = 0;  // d(loss) / d(h)
  switch (c.type) {
    case LossType::kSigmoid:
    case LossType::kDpoNorm: {
      double dz;
      smoothed(c.beta * h, c.label_smoothing, &out.loss, &dz);
      dh = c.beta * dz;
      break;
    }
    case LossType::kRobust: {
      const double e = c.label_smoothing, z = c.beta * h;
      out.loss = ((1 - e) * -log_sigmoid(z) - e * -log_sigmoid(-z)) / (1 - 2 * e);
      dh = c.beta * (-(1 - e) * sigmoid(-z) - e * sigmoid(z)) / (1 - 2 * e);
      break;
    }
    case LossType::kIpo: {
      const double u = h - 1 / (2 * c.beta);
      out.loss = u * u;
      dh = 2 * u;
      break;
    }
    case LossType::kHinge: {
      const double z = c.beta * h;
      out.loss = z < 1 ? 1 - z : 0;
      dh = z < 1 ? -c.beta : 0;
      break;
    }
    case LossType::kSimpo: {
      double dz;
      smoothed(c.beta * h - c.simpo_gamma, c.label_smoothing, &out.loss, &dz);
      dh = c.beta * dz;
      break;
    }
    case LossType::kSft:
      fail(ErrorCode::kInternal, "pair_loss called for the SFT loss");
  }
  out.d_chosen = dh / nc;
  out.d_rejected = -dh / nr;
  return out;
}

}  // namespace delta
