// Learning-rate schedules (see schedule.h).
#include "core/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace delta {

ScheduleType parse_schedule_type(const std::string& name) {
  if (name == "constant") return ScheduleType::kConstant;
  if (name == "linear") return ScheduleType::kLinear;
  if (name == "cosine") return ScheduleType::kCosine;
  if (name == "cosine_min_lr") return ScheduleType::kCosineMinLr;
  fail(ErrorCode::kInvalidConfig, "schedule '" + name +
                                      "' is not known (constant, linear, cosine, cosine_min_lr)");
}

void validate_schedule(const ScheduleConfig& c) {
  if (!(c.lr >= 0)) fail(ErrorCode::kInvalidConfig, "optimizer.lr must be >= 0");
  if (c.total_steps < 1) fail(ErrorCode::kInvalidConfig, "schedule.totalSteps must be >= 1");
  if (c.warmup_steps < 0 || c.warmup_steps > c.total_steps) {
    fail(ErrorCode::kInvalidConfig, "schedule.warmupSteps must be in [0, totalSteps]");
  }
  if (c.min_lr_ratio < 0 || c.min_lr_ratio > 1) {
    fail(ErrorCode::kInvalidConfig, "schedule.minLrRatio must be in [0, 1]");
  }
}

double learning_rate(const ScheduleConfig& c, int64_t step) {
  if (step < c.warmup_steps) {
    return c.lr * static_cast<double>(step + 1) / static_cast<double>(c.warmup_steps);
  }
  const double span = static_cast<double>(std::max<int64_t>(1, c.total_steps - c.warmup_steps));
  const double p = std::clamp(static_cast<double>(step - c.warmup_steps) / span, 0.0, 1.0);
  const double cosine = 0.5 * (1 + std::cos(M_PI * p));
  switch (c.type) {
    case ScheduleType::kConstant: return c.lr;
    case ScheduleType::kLinear: return c.lr * (1 - p);
    case ScheduleType::kCosine: return c.lr * cosine;
    case ScheduleType::kCosineMinLr: {
      const double min = c.min_lr_ratio * c.lr;
      return min + (c.lr - min) * cosine;
    }
  }
  return c.lr;
}

}  // namespace delta
