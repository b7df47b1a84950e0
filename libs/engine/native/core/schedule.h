// Learning-rate schedules: linear warmup, then constant, linear decay to zero, cosine decay to
// zero, or cosine decay to min_lr_ratio * lr. Step s counts optimizer updates from 0.
#pragma once

#include <cstdint>
#include <string>

namespace delta {

enum class ScheduleType { kConstant, kLinear, kCosine, kCosineMinLr };

struct ScheduleConfig {
  ScheduleType type = ScheduleType::kCosine;
  double lr = 1e-5;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double min_lr_ratio = 0;  // cosine_min_lr only
};

ScheduleType parse_schedule_type(const std::string& name);
void validate_schedule(const ScheduleConfig& config);

// The learning rate of update s: lr * (s + 1) / warmup during warmup, then with decay
// progress p = (s - warmup) / (total - warmup), clamped to [0, 1]:
// linear lr (1 - p); cosine lr (1 + cos(pi p)) / 2; cosine_min_lr
// min + (lr - min) (1 + cos(pi p)) / 2 with min = min_lr_ratio * lr.
double learning_rate(const ScheduleConfig& config, int64_t step);

}  // namespace delta
