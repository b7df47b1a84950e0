// The DPO-step benchmark of the CUDA backend, with no Node.js: models shaped like Qwen2.5-0.5B
// and 1.5B with random weights, length-normalised DPO (beta 5) and AdamW, one micro-batch of
// `pairs` pairs of prompt + response tokens. Prints per configuration one readable line and
// one JSON line: tokens/s, model FLOP/s and utilisation against 989 TFLOP/s (dense bfloat16,
// H100/H200 SXM), and peak device memory.
//
// Model FLOPs of a step (the work a DPO step needs, whatever the implementation does):
// 6 x tokens x (block matrix parameters) + 6 x scored rows x V x C (the lm head runs only on
// response rows) + 12 x L x NH x HS x (causal score pairs per sequence, t(t+1)/2).
// Usage: engine_cuda_bench [--model 0.5b|1.5b|all] [--pairs 8] [--prompt 256] [--response 256]
//                          [--steps 5] [--warmup 2] [--recompute on|off|both]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/inference.h"
#include "core/trainer.h"
#include "cuda/cuda_backend.h"
#include "cuda/test/harness.h"

namespace {

using namespace delta;
using delta::cuda::CudaBackend;
using namespace delta::cuda::test;

constexpr double kPeakFlops = 989e12;

struct Options {
  std::string model = "all";
  int64_t pairs = 8, prompt = 256, response = 256, steps = 5, warmup = 2;
  std::string recompute = "both";
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") o.model = v;
    else if (k == "--pairs") o.pairs = std::atoll(v.c_str());
    else if (k == "--prompt") o.prompt = std::atoll(v.c_str());
    else if (k == "--response") o.response = std::atoll(v.c_str());
    else if (k == "--steps") o.steps = std::atoll(v.c_str());
    else if (k == "--warmup") o.warmup = std::atoll(v.c_str());
    else if (k == "--recompute") o.recompute = v;
    else fail(ErrorCode::kInvalidArgument, "unknown option " + k);
  }
  if (o.pairs < 1 || o.prompt < 1 || o.response < 1 || o.steps < 1 || o.warmup < 0) {
    fail(ErrorCode::kInvalidArgument, "--pairs, --prompt, --response and --steps must be >= 1");
  }
  return o;
}

double model_flops(const ModelConfig& cfg, const PairBatch& b) {
  const Dims d = cfg.dims();
  const double block = static_cast<double>(d.C) * d.QKV() + static_cast<double>(d.QD()) * d.C +
                       3.0 * d.H * d.C;
  double flops = 6.0 * b.tokens() * block * d.L;
  flops += 6.0 * b.scored() * static_cast<double>(d.V) * d.C;
  double pairs = 0;
  for (int64_t s = 0; s < b.B; s++) {
    int64_t t = 0;
    for (int64_t k = 0; k < b.T; k++) t += b.mask[s * b.T + k];
    pairs += 0.5 * static_cast<double>(t) * (t + 1);
  }
  flops += 12.0 * d.L * d.NH * d.HS * pairs;
  return flops;
}

void run(const std::string& name, const ModelConfig& cfg, const Options& o, bool recompute) {
  auto owned = std::make_unique<CudaBackend>(0);
  CudaBackend& be = *owned;
  Model<float> model(cfg, std::move(owned));
  model.init_random(1, 0.02);

  std::mt19937_64 rng(3);
  const int64_t B = 2 * o.pairs, T = o.prompt + o.response;
  const PairBatch batch = make_batch(rng, cfg.vocab_size, T, std::vector<int64_t>(B, o.prompt),
                                     std::vector<int64_t>(B, o.response),
                                     std::vector<bool>(B, false));

  // Reference log-probs from the initial weights, as the trainer caches them (not timed).
  std::vector<double> ref(B);
  std::vector<int32_t> counts(B);
  {
    Inference<float> inf(model);
    inf.sequence_logprobs(batch.host(), ref.data(), counts.data());
  }

  TrainerConfig tc;
  tc.loss.type = LossType::kDpoNorm;
  tc.loss.beta = 5;
  tc.schedule.lr = 5e-7;
  tc.schedule.total_steps = o.warmup + o.steps;
  tc.max_micro_sequences = B;
  tc.max_length = T;
  tc.recompute = recompute;
  Trainer<float> trainer(model, tc);
  StepInput in;
  in.micro.push_back(batch.host());
  in.ref = ref.data();
  in.ref_counts = counts.data();
  in.ref_pairs = o.pairs;

  std::vector<double> seconds;
  StepMetrics last;
  for (int64_t i = 0; i < o.warmup + o.steps; i++) {
    be.synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    last = trainer.step(in, true);
    be.synchronize();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i >= o.warmup) seconds.push_back(s);
  }
  std::sort(seconds.begin(), seconds.end());
  const double step = seconds[seconds.size() / 2];
  const double flops = model_flops(cfg, batch);
  const cuda::MemoryStats mem = be.memory();
  const double tokens = static_cast<double>(batch.tokens());

  std::printf("%s%s: %lld params, %lld pairs x %lld tokens, step %.1f ms (median of %lld), "
              "%.0f tokens/s, %.1f TFLOP/s model, MFU %.1f%%, executed matmuls %.1f TFLOP/s, "
              "peak %.2f GiB engine / %.2f GiB device, loss %.4f\n",
              name.c_str(), recompute ? " + recompute" : "",
              static_cast<long long>(model.num_params()), static_cast<long long>(o.pairs),
              static_cast<long long>(T), step * 1e3, static_cast<long long>(seconds.size()),
              tokens / step, flops / step / 1e12, 100.0 * flops / step / kPeakFlops,
              last.matmul_flops / step / 1e12, mem.peak / 1073741824.0,
              mem.device_used / 1073741824.0, last.loss);
  std::printf("{\"model\":\"%s\",\"recompute\":%s,\"params\":%lld,\"pairs\":%lld,"
              "\"tokens_per_step\":%.0f,\"step_ms\":%.2f,\"tokens_per_s\":%.0f,"
              "\"model_tflops\":%.2f,\"mfu\":%.4f,\"peak_engine_gib\":%.3f,"
              "\"device_used_gib\":%.3f,\"loss\":%.6f}\n",
              name.c_str(), recompute ? "true" : "false",
              static_cast<long long>(model.num_params()), static_cast<long long>(o.pairs), tokens,
              step * 1e3, tokens / step, flops / step / 1e12, flops / step / kPeakFlops,
              mem.peak / 1073741824.0, mem.device_used / 1073741824.0, last.loss);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    {
      CudaBackend probe(0);
      std::printf("device: %s\n", probe.device_name().c_str());
    }
    std::vector<std::pair<std::string, ModelConfig>> models;
    if (o.model == "0.5b" || o.model == "all") models.push_back({"qwen2.5-0.5b", qwen25_05b()});
    if (o.model == "1.5b" || o.model == "all") models.push_back({"qwen2.5-1.5b", qwen25_15b()});
    if (models.empty()) fail(ErrorCode::kInvalidArgument, "--model is 0.5b, 1.5b or all");
    for (const auto& [name, cfg] : models) {
      if (o.recompute != "on") run(name, cfg, o, false);
      if (o.recompute != "off") run(name, cfg, o, true);
    }
  } catch (const EngineError& e) {
    std::fprintf(stderr, "engine_cuda_bench: %s: %s\n", e.code_name(), e.what());
    return e.code() == ErrorCode::kInvalidState ? 2 : 1;
  }
  return 0;
}
