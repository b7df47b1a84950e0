// Native checks that need no JavaScript: finite-difference gradient checks, in double
// precision, of every op's backward and of the whole model under each loss; and a count of
// heap allocations during steady-state training steps (there must be none).
// Prints "N passed, M failed" and exits non-zero on any failure.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "core/inference.h"
#include "core/trainer.h"
#include "cpu/cpu_backend.h"
#include "ops/attention.h"
#include "ops/bias.h"
#include "ops/embedding.h"
#include "ops/logprob.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"

// Counts every operator new, so the steady-state check can see any allocation.
static long g_allocations = 0;
void* operator new(size_t n) {
  g_allocations++;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

using namespace delta;
using Vec = std::vector<double>;

int g_passed = 0, g_failed = 0;

void report(const std::string& name, bool ok, const std::string& detail) {
  (ok ? g_passed : g_failed)++;
  std::printf("%s %s %s\n", ok ? "ok  " : "FAIL", name.c_str(), detail.c_str());
}

Vec randn(size_t n, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<double> d(0, scale);
  Vec v(n);
  for (double& x : v) x = d(rng);
  return v;
}

// Compares analytic gradient entries with central differences of loss() at sampled indices.
void check_grad(const std::string& name, Vec& x, const Vec& grad,
                const std::function<double()>& loss, std::mt19937_64& rng, int samples = 24,
                double h = 1e-6, double tol = 1e-6) {
  double worst = 0;
  std::uniform_int_distribution<size_t> pick(0, x.size() - 1);
  for (int s = 0; s < samples; s++) {
    const size_t i = s < static_cast<int>(x.size()) && x.size() <= 24 ? s : pick(rng);
    const double keep = x[i];
    x[i] = keep + h;
    const double up = loss();
    x[i] = keep - h;
    const double down = loss();
    x[i] = keep;
    const double fd = (up - down) / (2 * h);
    const double err = std::fabs(fd - grad[i]) / std::max(1.0, std::fabs(fd));
    worst = std::max(worst, err);
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "(worst error %.2e)", worst);
  report(name, worst < tol, buf);
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
  return s;
}

void test_ops(std::mt19937_64& rng) {
  const int th = 2;
  {  // rmsnorm
    const int64_t N = 5, C = 12;
    Vec x = randn(N * C, rng), w = randn(C, rng), g = randn(N * C, rng);
    Vec out(N * C), rstd(N), dx(N * C, 0.0), dw(C, 0.0);
    auto loss = [&] {
      ops::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5, th);
      return dot(out, g);
    };
    loss();
    ops::rmsnorm_backward(dx.data(), dw.data(), g.data(), x.data(), w.data(), rstd.data(), N, C,
                          th);
    check_grad("rmsnorm dx", x, dx, loss, rng);
    check_grad("rmsnorm dw", w, dw, loss, rng);
  }
  {  // bias
    const int64_t N = 4, M = 7;
    Vec x0 = randn(N * M, rng), b = randn(M, rng), g = randn(N * M, rng), db(M, 0.0);
    auto loss = [&] {
      Vec x = x0;
      ops::bias_forward(x.data(), b.data(), N, M, th);
      return dot(x, g);
    };
    ops::bias_backward(db.data(), g.data(), N, M, th);
    check_grad("bias db", b, db, loss, rng);
  }
  {  // embedding
    const int64_t N = 6, C = 5, V = 4;
    std::vector<int32_t> ids = {1, 3, 1, 0, 3, 3};
    Vec table = randn(V * C, rng), g = randn(N * C, rng), out(N * C), dt(V * C, 0.0);
    auto loss = [&] {
      ops::embedding_forward(out.data(), ids.data(), table.data(), N, C, th);
      return dot(out, g);
    };
    ops::embedding_backward(dt.data(), g.data(), ids.data(), N, C, th);
    check_grad("embedding dtable", table, dt, loss, rng);
  }
  {  // rope
    const int64_t N = 3, NH = 4, NKV = 2, HS = 8, QKV = (NH + 2 * NKV) * HS;
    std::vector<int32_t> pos = {0, 5, 17};
    Vec inv = {1.0, 0.3, 0.05, 0.001}, cs(N * HS / 2), sn(N * HS / 2);
    ops::rope_tables(cs.data(), sn.data(), pos.data(), inv.data(), N, HS / 2, th);
    Vec x = randn(N * QKV, rng), g = randn(N * QKV, rng);
    auto loss = [&] {
      Vec y = x;
      ops::rope_rotate(y.data(), cs.data(), sn.data(), N, NH, NKV, HS, 1.0, th);
      return dot(y, g);
    };
    Vec dx = g;
    ops::rope_rotate(dx.data(), cs.data(), sn.data(), N, NH, NKV, HS, -1.0, th);
    check_grad("rope dx", x, dx, loss, rng);
  }
  for (int64_t window : {0, 3}) {  // attention: GQA, left padding, a hole, a window
    const int64_t B = 2, F = 7, NH = 4, NKV = 2, HS = 4, QD = NH * HS;
    const int64_t QKV = (NH + 2 * NKV) * HS;
    std::vector<int32_t> mask = {0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0};
    Vec qkv = randn(B * F * QKV, rng), g = randn(B * F * QD, rng);
    Vec att(B * F * QD), probs(B * NH * F * F), scratch(th * F * F), dqkv(B * F * QKV);
    auto loss = [&] {
      ops::attention_forward(att.data(), probs.data(), qkv.data(), mask.data(), B, F, NH, NKV,
                             HS, window, th);
      return dot(att, g);
    };
    loss();
    ops::attention_backward(dqkv.data(), g.data(), qkv.data(), probs.data(), mask.data(), B, F,
                            NH, NKV, HS, window, scratch.data(), th);
    check_grad("attention dqkv (window " + std::to_string(window) + ")", qkv, dqkv, loss, rng,
               64);
  }
  for (int64_t window : {0, 70}) {  // attention over spans longer than one row block
    const int64_t B = 2, T = 150, NH = 2, NKV = 1, HS = 4, QD = NH * HS;
    const int64_t QKV = (NH + 2 * NKV) * HS;
    std::vector<int32_t> mask(B * T, 1);
    for (int64_t t = 0; t < 9; t++) mask[t] = 0;           // left padding
    for (int64_t t = 140; t < T; t++) mask[T + t] = 0;     // right padding
    mask[T + 100] = 0;                                      // a hole
    Vec qkv = randn(B * T * QKV, rng), g = randn(B * T * QD, rng);
    Vec att(B * T * QD), probs(B * NH * T * T), scratch(th * T * T), dqkv(B * T * QKV);
    auto loss = [&] {
      ops::attention_forward(att.data(), probs.data(), qkv.data(), mask.data(), B, T, NH, NKV,
                             HS, window, th);
      return dot(att, g);
    };
    loss();
    ops::attention_backward(dqkv.data(), g.data(), qkv.data(), probs.data(), mask.data(), B, T,
                            NH, NKV, HS, window, scratch.data(), th);
    check_grad("attention dqkv, T 150 (window " + std::to_string(window) + ")", qkv, dqkv, loss,
               rng, 64);
  }
  {  // swiglu
    const int64_t N = 3, H = 6;
    Vec gu = randn(N * 2 * H, rng, 2.0), g = randn(N * H, rng), h(N * H), dgu(N * 2 * H);
    auto loss = [&] {
      ops::swiglu_forward(h.data(), gu.data(), N, H, th);
      return dot(h, g);
    };
    ops::swiglu_backward(dgu.data(), g.data(), gu.data(), N, H, th);
    check_grad("swiglu dgu", gu, dgu, loss, rng);
  }
  {  // log-prob of a target
    const int64_t R = 3, V = 37;
    std::vector<int32_t> tg = {4, 0, 36};
    Vec logits = randn(R * V, rng, 3.0), g = randn(R, rng), logp(R), lse(R);
    auto loss = [&] {
      ops::logprob_forward(logp.data(), lse.data(), logits.data(), tg.data(), R, V, th);
      return dot(logp, g);
    };
    loss();
    Vec dl = logits;
    ops::logprob_backward(dl.data(), lse.data(), tg.data(), g.data(), R, V, th);
    check_grad("logprob dlogits", logits, dl, loss, rng);
  }
}

ModelConfig tiny_config() {
  ModelConfig c;
  c.vocab_size = 23;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 500.0;
  c.rope_scaling.type = "llama3";
  c.rope_scaling.factor = 4;
  c.rope_scaling.low_freq_factor = 1;
  c.rope_scaling.high_freq_factor = 2;
  c.rope_scaling.original_max_position = 16;
  c.sliding_window = 5;
  c.tie_word_embeddings = true;
  c.qkv_bias = c.o_bias = c.mlp_bias = true;
  return c;
}

// Two pairs, left-padded differently, in one micro-batch of four sequences.
struct PairBatch {
  int64_t B = 4, T = 9;
  std::vector<int32_t> ids, pos, mask, targets;
  HostBatch host() const { return HostBatch{B, T, ids.data(), pos.data(), mask.data(),
                                            targets.data()}; }
};

PairBatch make_pairs(std::mt19937_64& rng, int64_t V) {
  PairBatch p;
  const int prompt[4] = {3, 3, 2, 2};
  const int resp[4] = {4, 2, 3, 5};
  std::uniform_int_distribution<int> tok(0, static_cast<int>(V) - 1);
  p.ids.assign(p.B * p.T, 0);
  p.pos.assign(p.B * p.T, 0);
  p.mask.assign(p.B * p.T, 0);
  p.targets.assign(p.B * p.T, -1);
  for (int64_t s = 0; s < p.B; s++) {
    const int64_t len = prompt[s] + resp[s], pad = p.T - len;
    for (int64_t t = 0; t < len; t++) {
      const int64_t n = s * p.T + pad + t;
      p.ids[n] = tok(rng);
      p.pos[n] = static_cast<int32_t>(t);
      p.mask[n] = 1;
    }
    for (int64_t t = prompt[s] - 1; t < len - 1; t++) {
      const int64_t n = s * p.T + pad + t;
      p.targets[n] = p.ids[n + 1];
    }
  }
  return p;
}

void test_model(std::mt19937_64& rng) {
  const ModelConfig cfg = tiny_config();
  const PairBatch pb = make_pairs(rng, cfg.vocab_size);
  const double ref[4] = {-14.2, -6.9, -9.8, -17.1};
  const int32_t ref_counts[4] = {4, 2, 3, 5};

  for (const char* loss_name : {"sigmoid", "dpo_norm", "robust", "ipo", "hinge", "simpo",
                                "sft"}) {
    Model<double> model(cfg, std::make_unique<cpu::CpuBackend<double>>(2));
    model.init_random(7, 0.3);
    // Non-trivial norm weights so their gradients are exercised.
    Vec host(model.num_params());
    model.backend().download(host.data(), model.data(), sizeof(double) * host.size());
    for (const ParamInfo& p : model.params()) {
      if (p.shape.size() == 1) {
        for (int64_t i = 0; i < p.size; i++) host[p.offset + i] += 0.2 * std::sin(1.0 + i);
      }
    }
    model.backend().upload(model.data(), host.data(), sizeof(double) * host.size());

    TrainerConfig tc;
    tc.loss.type = parse_loss_type(loss_name);
    tc.loss.beta = tc.loss.type == LossType::kIpo ? 0.5 : 0.7;
    tc.loss.label_smoothing = tc.loss.type == LossType::kRobust ? 0.1 : 0.0;
    tc.loss.simpo_gamma = 0.3;
    tc.loss.nll_alpha = tc.loss.type == LossType::kSigmoid ? 0.2 : 0.0;
    tc.max_micro_sequences = 4;
    tc.max_length = 9;
    tc.logits_budget_elements = 5 * cfg.vocab_size;  // forces chunked lm-head recomputation
    Trainer<double> trainer(model, tc);

    StepInput in;
    in.micro.push_back(pb.host());
    if (needs_reference(tc.loss.type)) {
      in.ref = ref;
      in.ref_counts = ref_counts;
      in.ref_pairs = 2;
    }
    trainer.step(in, false);
    Vec grad(model.num_params());
    model.backend().download(grad.data(), trainer.grads(), sizeof(double) * grad.size());

    Vec params(model.num_params());
    model.backend().download(params.data(), model.data(), sizeof(double) * params.size());
    double* live = model.data();
    // The parameters are host memory on the CPU backend, so perturb them in place.
    Vec& x = params;
    auto loss = [&] {
      for (size_t i = 0; i < x.size(); i++) live[i] = x[i];
      return trainer.step(in, false).loss;
    };
    check_grad(std::string("model + ") + loss_name + " loss", x, grad, loss, rng, 80, 1e-5, 2e-6);
    loss();
  }
}

void test_no_steady_state_allocation(std::mt19937_64& rng) {
  ModelConfig cfg = tiny_config();
  Model<float> model(cfg, std::make_unique<cpu::CpuBackend<float>>(2));
  model.init_random(3, 0.05);
  TrainerConfig tc;
  tc.loss.type = LossType::kDpoNorm;
  tc.max_micro_sequences = 4;
  tc.max_length = 9;
  Trainer<float> trainer(model, tc);
  const PairBatch pb = make_pairs(rng, cfg.vocab_size);
  const double ref[4] = {-14.2, -6.9, -9.8, -17.1};
  StepInput in;
  in.micro.push_back(pb.host());
  in.micro.push_back(pb.host());
  in.ref = ref;
  in.ref_pairs = 4;
  const double ref4[8] = {-14.2, -6.9, -9.8, -17.1, -14.2, -6.9, -9.8, -17.1};
  in.ref = ref4;
  trainer.step(in, true);  // warm-up: BLAS and scratch settle
  const long before = g_allocations;
  for (int i = 0; i < 5; i++) trainer.step(in, true);
  const long during = g_allocations - before;
  report("no heap allocation in steady-state steps", during == 0,
         "(" + std::to_string(during) + " allocations in 5 steps)");
}

void test_dpo_starts_at_ln2(std::mt19937_64& rng) {
  ModelConfig cfg = tiny_config();
  Model<double> model(cfg, std::make_unique<cpu::CpuBackend<double>>(1));
  model.init_random(11, 0.2);
  const PairBatch pb = make_pairs(rng, cfg.vocab_size);
  Inference<double> inf(model);
  double sums[4];
  int32_t counts[4];
  inf.sequence_logprobs(pb.host(), sums, counts);
  TrainerConfig tc;
  tc.loss.type = LossType::kSigmoid;
  tc.max_micro_sequences = 4;
  tc.max_length = 9;
  Trainer<double> trainer(model, tc);
  StepInput in;
  in.micro.push_back(pb.host());
  in.ref = sums;
  in.ref_counts = counts;
  in.ref_pairs = 2;
  const StepMetrics m = trainer.step(in, false);
  const bool ok = std::fabs(m.loss - std::log(2.0)) < 1e-12 && m.grad_norm > 1e-3;
  char buf[96];
  std::snprintf(buf, sizeof buf, "(loss %.15f, grad norm %.3e)", m.loss, m.grad_norm);
  report("policy == reference: loss is ln 2, gradient non-zero", ok, buf);
}

}  // namespace

int main() {
  std::mt19937_64 rng(1234);
  try {
    test_ops(rng);
    test_model(rng);
    test_dpo_starts_at_ln2(rng);
    test_no_steady_state_allocation(rng);
  } catch (const std::exception& e) {
    report("unexpected exception", false, e.what());
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
