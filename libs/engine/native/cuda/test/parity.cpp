// CPU-versus-CUDA parity of the engine, with no Node.js: every Backend call on random inputs,
// then whole tiny models (logits, sequence log-probs, DPO losses, gradients, an AdamW step,
// recomputation, determinism). The CPU backend in float is the reference, in this program.
// Prints one line per check and "N passed, M failed"; exits 0 when all pass, 1 on a failure,
// 2 when there is no usable CUDA device. `engine_cuda_parity NAME` runs only the tiny models
// whose name contains NAME (and no op checks).
//
// Tolerances. Errors are max |cuda - cpu| / max |cpu| (rel_max) or ||cuda - cpu|| / ||cpu||
// (rel_l2). Float matrix products: 1e-5 for elementwise ops, 1e-4 for reductions, products
// and attention (summation order and exp differ), 1e-4 for model logits, log-probs and
// gradients. Bfloat16 products (8-bit mantissa operands, float accumulation): 3e-2 rel_max for
// one product and for logits, 5e-2 rel_l2 for gradients, 2e-2 absolute for a mean per-token
// log-prob, 2e-2 for a DPO loss.
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/inference.h"
#include "core/trainer.h"
#include "cpu/cpu_backend.h"
#include "cuda/cuda_backend.h"
#include "cuda/test/harness.h"

namespace {

using namespace delta;
using delta::cuda::CudaBackend;
using delta::cuda::MatmulPrecision;
using namespace delta::cuda::test;
using Floats = std::vector<float>;

int g_passed = 0, g_failed = 0;

void report(const std::string& name, bool ok, const std::string& detail) {
  (ok ? g_passed : g_failed)++;
  std::printf("%s %s %s\n", ok ? "ok  " : "FAIL", name.c_str(), detail.c_str());
  std::fflush(stdout);
}

void expect_close(const std::string& name, double err, double tol) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "(error %.2e, tolerance %.0e)", err, tol);
  report(name, err <= tol, buf);
}

// Runs `op` on both backends (fresh buffers each) and compares the floats it returns.
void compare_op(const std::string& name, Backend<float>& cpu, Backend<float>& gpu, double tol,
                const std::function<Floats(Backend<float>&, Buffers&)>& op) {
  Buffers cb(cpu), gb(gpu);
  const Floats want = op(cpu, cb);
  const Floats got = op(gpu, gb);
  expect_close(name, rel_max(got, want), tol);
}

void test_ops(Backend<float>& cpu, Backend<float>& gpu, Backend<float>& gpu16) {
  std::mt19937_64 rng(99);

  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const int64_t M = 67, N = 45, K = 130;
      const Floats a = randn(M * K, rng), b = randn(K * N, rng), c = randn(M * N, rng);
      auto op = [&](Backend<float>& be, Buffers& buf) {
        float* C = buf.put(c);
        be.matmul(ta, tb, M, N, K, 0.7f, buf.put(a), ta ? M : K, buf.put(b), tb ? K : N, 0.5f,
                  C, N);
        return buf.get(C, M * N);
      };
      const std::string flags = std::string(ta ? "T" : "N") + (tb ? "T" : "N");
      compare_op("matmul " + flags + " (float)", cpu, gpu, 1e-4, op);
      compare_op("matmul " + flags + " (bfloat16)", cpu, gpu16, 3e-2, op);
    }
  }

  {
    const int64_t N = 40, C = 70, V = 9;
    std::vector<int32_t> ids(N);
    for (int64_t n = 0; n < N; n++) ids[n] = static_cast<int32_t>((n * 7) % V);  // repeats
    const Floats table = randn(V * C, rng), dout = randn(N * C, rng);
    compare_op("embedding forward", cpu, gpu, 1e-6, [&](Backend<float>& be, Buffers& buf) {
      float* out = buf.empty<float>(N * C);
      be.embedding_forward(out, buf.put(ids), buf.put(table), N, C);
      return buf.get(out, N * C);
    });
    compare_op("embedding backward (repeated ids)", cpu, gpu, 1e-5,
               [&](Backend<float>& be, Buffers& buf) {
                 float* dt = buf.put(table);
                 be.embedding_backward(dt, buf.put(dout), buf.put(ids), N, C);
                 return buf.get(dt, V * C);
               });
  }

  for (int64_t C : {64, 896, 1000}) {
    const int64_t N = 300;
    const Floats x = randn(N * C, rng, 2.0), w = randn(C, rng), g = randn(N * C, rng);
    const Floats dx0 = randn(N * C, rng), dw0 = randn(C, rng);
    const std::string c = " (C " + std::to_string(C) + ")";
    compare_op("rmsnorm forward" + c, cpu, gpu, 1e-5, [&](Backend<float>& be, Buffers& buf) {
      float* out = buf.empty<float>(N * C);
      float* rstd = buf.empty<float>(N);
      const float* xd = buf.put(x);
      const float* wd = buf.put(w);
      be.rmsnorm_forward(out, rstd, xd, wd, N, C, 1e-6);
      Floats r = buf.get(out, N * C), s = buf.get(rstd, N);
      float* again = buf.empty<float>(N * C);
      be.rmsnorm_apply(again, xd, wd, rstd, N, C);
      Floats a = buf.get(again, N * C);
      r.insert(r.end(), s.begin(), s.end());
      r.insert(r.end(), a.begin(), a.end());
      return r;
    });
    compare_op("rmsnorm backward" + c, cpu, gpu, 1e-4, [&](Backend<float>& be, Buffers& buf) {
      float* out = buf.empty<float>(N * C);
      float* rstd = buf.empty<float>(N);
      const float* xd = buf.put(x);
      const float* wd = buf.put(w);
      be.rmsnorm_forward(out, rstd, xd, wd, N, C, 1e-6);
      float* dx = buf.put(dx0);
      float* dw = buf.put(dw0);
      be.rmsnorm_backward(dx, dw, buf.put(g), xd, wd, rstd, N, C);
      Floats r = buf.get(dx, N * C), s = buf.get(dw, C);
      r.insert(r.end(), s.begin(), s.end());
      return r;
    });
  }

  {
    const int64_t N = 700, M = 129;
    const Floats x = randn(N * M, rng), b = randn(M, rng), db0 = randn(M, rng);
    compare_op("bias forward and backward", cpu, gpu, 1e-4,
               [&](Backend<float>& be, Buffers& buf) {
                 float* xd = buf.put(x);
                 be.bias_forward(xd, buf.put(b), N, M);
                 float* db = buf.put(db0);
                 be.bias_backward(db, buf.put(x), N, M);
                 Floats r = buf.get(xd, N * M), s = buf.get(db, M);
                 r.insert(r.end(), s.begin(), s.end());
                 return r;
               });
  }

  {
    const int64_t N = 37, NH = 4, NKV = 2, HS = 64, half = HS / 2, QKV = (NH + 2 * NKV) * HS;
    std::vector<int32_t> pos(N);
    for (int64_t n = 0; n < N; n++) pos[n] = static_cast<int32_t>((n * 131) % 4000);
    Floats inv(half);
    for (int64_t i = 0; i < half; i++) inv[i] = static_cast<float>(std::pow(1e6, -2.0 * i / HS));
    const Floats qkv = randn(N * QKV, rng);
    compare_op("rope tables, forward and backward", cpu, gpu, 1e-5,
               [&](Backend<float>& be, Buffers& buf) {
                 float* cs = buf.empty<float>(N * half);
                 float* sn = buf.empty<float>(N * half);
                 be.rope_tables(cs, sn, buf.put(pos), buf.put(inv), N, half);
                 float* x = buf.put(qkv);
                 be.rope_forward(x, cs, sn, N, NH, NKV, HS);
                 Floats r = buf.get(x, N * QKV);
                 be.rope_backward(x, cs, sn, N, NH, NKV, HS);
                 Floats back = buf.get(x, N * QKV);
                 r.insert(r.end(), back.begin(), back.end());
                 return r;
               });
  }

  struct AttentionCase {
    int64_t B, T, NH, NKV, HS, window;
  };
  for (const AttentionCase& a : {AttentionCase{2, 150, 4, 2, 32, 0},
                                 AttentionCase{2, 150, 2, 1, 64, 70},
                                 AttentionCase{1, 64, 3, 3, 128, 0},
                                 AttentionCase{3, 65, 2, 2, 128, 5},
                                 AttentionCase{1, 1, 2, 1, 64, 0},
                                 AttentionCase{2, 63, 4, 1, 16, 0}}) {
    const int64_t QD = a.NH * a.HS, QKV = QD + 2 * a.NKV * a.HS, N = a.B * a.T;
    std::vector<int32_t> mask(N, 1);
    for (int64_t t = 0; t < std::min<int64_t>(9, a.T - 1); t++) mask[t] = 0;  // left padding
    if (a.B > 1) {
      for (int64_t t = a.T * 9 / 10; t < a.T; t++) mask[a.T + t] = 0;  // right padding
      if (a.T > 20) mask[a.T + a.T / 2] = 0;                           // a hole
    }
    const Floats qkv = randn(N * QKV, rng), datt = randn(N * QD, rng);
    char shape[96];
    std::snprintf(shape, sizeof shape, " (B %lld, T %lld, heads %lld/%lld, HS %lld, window %lld)",
                  (long long)a.B, (long long)a.T, (long long)a.NH, (long long)a.NKV,
                  (long long)a.HS, (long long)a.window);
    auto run = [&](Backend<float>& be, Buffers& buf, bool backward) {
      const float* q = buf.put(qkv);
      const int32_t* m = buf.put(mask);
      float* att = buf.empty<float>(N * QD);
      float* state = buf.empty<float>(be.attention_state_elements(a.B, a.T, a.NH));
      be.attention_forward(att, state, q, m, a.B, a.T, a.NH, a.NKV, a.HS, a.window);
      if (!backward) return buf.get(att, N * QD);
      float* dqkv = buf.empty<float>(N * QKV);
      be.attention_backward(dqkv, buf.put(datt), q, att, state, m, a.B, a.T, a.NH, a.NKV, a.HS,
                            a.window);
      return buf.get(dqkv, N * QKV);
    };
    compare_op(std::string("attention forward") + shape, cpu, gpu, 1e-4,
               [&](Backend<float>& be, Buffers& buf) { return run(be, buf, false); });
    compare_op(std::string("attention backward") + shape, cpu, gpu, 1e-4,
               [&](Backend<float>& be, Buffers& buf) { return run(be, buf, true); });
  }

  {
    const int64_t N = 33, H = 300;
    const Floats gu = randn(N * 2 * H, rng, 3.0), dh = randn(N * H, rng);
    compare_op("swiglu forward and backward", cpu, gpu, 1e-5,
               [&](Backend<float>& be, Buffers& buf) {
                 const float* g = buf.put(gu);
                 float* h = buf.empty<float>(N * H);
                 be.swiglu_forward(h, g, N, H);
                 float* dgu = buf.empty<float>(N * 2 * H);
                 be.swiglu_backward(dgu, buf.put(dh), g, N, H);
                 Floats r = buf.get(h, N * H), s = buf.get(dgu, N * 2 * H);
                 r.insert(r.end(), s.begin(), s.end());
                 return r;
               });
  }

  {
    const int64_t R = 11, C = 50;
    const std::vector<int32_t> rows = {3, 0, 17, 5, 9, 10, 11, 2, 19, 4, 8};
    const Floats src = randn(20 * C, rng), y = randn(20 * C, rng);
    compare_op("gather, scatter, add and scale", cpu, gpu, 1e-6,
               [&](Backend<float>& be, Buffers& buf) {
                 const int32_t* r = buf.put(rows);
                 float* sel = buf.empty<float>(R * C);
                 be.gather_rows(sel, buf.put(src), r, R, C);
                 float* back = buf.put(y);
                 be.scatter_rows(back, sel, r, R, C);
                 be.add_inplace(back, buf.put(src), 20 * C);
                 be.scale(back, 0.25f, 20 * C);
                 return buf.get(back, 20 * C);
               });
  }

  for (int64_t V : {37, 151936}) {
    const int64_t R = 9;
    std::vector<int32_t> targets(R);
    for (int64_t r = 0; r < R; r++) targets[r] = static_cast<int32_t>((r * 7919) % V);
    const Floats logits = randn(R * V, rng, 4.0), dlogp = randn(R, rng);
    compare_op("log-prob forward and backward (V " + std::to_string(V) + ")", cpu, gpu, 1e-4,
               [&](Backend<float>& be, Buffers& buf) {
                 float* x = buf.put(logits);
                 float* logp = buf.empty<float>(R);
                 float* lse = buf.empty<float>(R);
                 const int32_t* t = buf.put(targets);
                 be.logprob_forward(logp, lse, x, t, R, V);
                 Floats r = buf.get(logp, R);
                 be.logprob_backward(x, lse, t, buf.put(dlogp), R, V);
                 Floats d = buf.get(x, R * V);
                 r.insert(r.end(), d.begin(), d.end());
                 return r;
               });
  }

  {
    const int64_t n = 300001;
    const Floats x = randn(n, rng, 0.1);
    Buffers cb(cpu), gb(gpu);
    const double want = cpu.sum_squares(cb.put(x), n), got = gpu.sum_squares(gb.put(x), n);
    expect_close("sum of squares", std::fabs(got - want) / want, 1e-12);
  }

  {
    const int64_t n = 10007;
    const Floats p = randn(n, rng), g = randn(n, rng, 1e-3), m = randn(n, rng, 1e-4);
    Floats v = randn(n, rng, 1e-4);
    for (float& x : v) x = x * x;
    compare_op("AdamW update", cpu, gpu, 1e-6, [&](Backend<float>& be, Buffers& buf) {
      float* pd = buf.put(p);
      float* md = buf.put(m);
      float* vd = buf.put(v);
      be.adamw_update(pd, buf.put(g), md, vd, n, 1e-3, 0.9, 0.999, 1e-8, 0.1, 0.7, 1 - 0.9 * 0.9,
                      1 - 0.999 * 0.999);
      Floats r = buf.get(pd, n), a = buf.get(md, n), b = buf.get(vd, n);
      r.insert(r.end(), a.begin(), a.end());
      r.insert(r.end(), b.begin(), b.end());
      return r;
    });
  }

  compare_op("normal init (same seed, same draws)", cpu, gpu, 1e-6,
             [&](Backend<float>& be, Buffers& buf) {
               float* x = buf.empty<float>(100003);
               be.normal_init(x, 100003, 0.02, 42, 12345);
               return buf.get(x, 100003);
             });
}

// Tiny models that cover the graph's options: grouped-query heads of 32, 64 and 128, biases
// everywhere or only on q/k/v, tied and untied heads, a sliding window, llama3 RoPE scaling.
struct TinyModel {
  std::string name;
  ModelConfig config;
  int64_t logits_budget;  // elements; small values force chunked lm-head recomputation
};

std::vector<TinyModel> tiny_models() {
  std::vector<TinyModel> out;
  ModelConfig a;
  a.vocab_size = 1000;
  a.hidden_size = 128;
  a.intermediate_size = 384;
  a.num_layers = 2;
  a.num_heads = 4;
  a.num_kv_heads = 2;
  a.rope_theta = 1e6;
  a.tie_word_embeddings = true;
  a.qkv_bias = true;
  out.push_back({"qwen-like (HS 32)", a, 64ll << 20});

  ModelConfig b;
  b.vocab_size = 777;
  b.hidden_size = 192;
  b.intermediate_size = 320;
  b.num_layers = 2;
  b.num_heads = 3;
  b.num_kv_heads = 1;
  b.rms_norm_eps = 1e-5;
  b.rope_theta = 5e5;
  b.rope_scaling.type = "llama3";
  b.rope_scaling.factor = 8;
  b.rope_scaling.original_max_position = 64;
  b.sliding_window = 48;
  b.qkv_bias = b.o_bias = b.mlp_bias = true;
  out.push_back({"llama-like, window 48, all biases (HS 64)", b, 100 * 777});

  ModelConfig c;
  c.vocab_size = 512;
  c.hidden_size = 256;
  c.intermediate_size = 512;
  c.num_layers = 2;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.tie_word_embeddings = true;
  out.push_back({"HS 128", c, 64ll << 20});
  return out;
}

// A model's full parameter vector.
Floats parameters(Model<float>& m) {
  Floats out(m.num_params());
  m.backend().download(out.data(), m.data(), sizeof(float) * out.size());
  return out;
}

// The parameter tensor whose gradient disagrees most (by rel_l2), for the failure message.
std::string worst_tensor(Model<float>& m, const Floats& got, const Floats& want) {
  std::string name;
  double worst = -1;
  for (const ParamInfo& p : m.params()) {
    const double e = rel_l2(got, want, p.offset, p.offset + p.size);
    if (e > worst) {
      worst = e;
      name = p.name;
    }
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "worst tensor %s at %.2e", name.c_str(), worst);
  return buf;
}

struct StepResult {
  StepMetrics metrics;
  Floats grads;
  double loss_after = 0;
  size_t arena_bytes = 0;
};

// One DPO step on a copy of `weights`: gradients and metrics, and (when apply) the loss of the
// same batch after the AdamW update.
StepResult dpo_step(Model<float>& model, const Floats& weights, const TinyModel& tm,
                    const PairBatch& batch, const std::vector<double>& ref, bool apply,
                    bool recompute) {
  model.backend().upload(model.data(), weights.data(), sizeof(float) * weights.size());
  TrainerConfig tc;
  tc.loss.type = LossType::kDpoNorm;
  tc.loss.beta = 5;
  tc.schedule.lr = 1e-4;
  tc.schedule.warmup_steps = 0;
  tc.schedule.total_steps = 10;
  tc.max_micro_sequences = batch.B;
  tc.max_length = batch.T;
  tc.logits_budget_elements = tm.logits_budget;
  tc.recompute = recompute;
  Trainer<float> trainer(model, tc);
  StepInput in;
  in.micro.push_back(batch.host());
  in.ref = ref.data();
  in.ref_pairs = batch.B / 2;
  StepResult r;
  r.metrics = trainer.step(in, apply);
  r.grads.resize(model.num_params());
  model.backend().download(r.grads.data(), trainer.grads(), sizeof(float) * r.grads.size());
  r.arena_bytes = trainer.arena_bytes();
  if (apply) r.loss_after = trainer.step(in, false).loss;
  return r;
}

void test_model(const TinyModel& tm) {
  std::mt19937_64 rng(7);
  const ModelConfig& cfg = tm.config;
  Model<float> cpu(cfg, std::make_unique<cpu::CpuBackend<float>>(2));
  cpu.init_random(5, 0.05);
  const Floats weights = parameters(cpu);

  // Two pairs over 150 positions (three 64-row tiles), left and right padded.
  const PairBatch batch = make_batch(rng, cfg.vocab_size, 150, {60, 60, 41, 41},
                                     {70, 45, 100, 30}, {true, false, false, true});
  std::vector<double> ref(batch.B);
  std::vector<int32_t> counts(batch.B);
  Inference<float>(cpu).sequence_logprobs(batch.host(), ref.data(), counts.data());
  for (double& r : ref) r -= 1.5;  // a reference unlike the policy: a non-trivial margin

  Floats want_logits(batch.B * batch.T * cfg.vocab_size);
  HostBatch plain = batch.host();
  plain.targets = nullptr;
  Inference<float>(cpu).logits(plain, want_logits.data());
  std::vector<double> want_sums(batch.B);
  Inference<float>(cpu).sequence_logprobs(batch.host(), want_sums.data(), counts.data());
  const StepResult want = dpo_step(cpu, weights, tm, batch, ref, true, false);

  struct Precision {
    const char* name;
    MatmulPrecision precision;
    double logits_tol, logp_tol, loss_tol, grad_tol;
  };
  for (const Precision& pr :
       {Precision{"float", MatmulPrecision::kFloat, 1e-4, 1e-4, 1e-5, 1e-4},
        Precision{"bfloat16", MatmulPrecision::kBf16, 3e-2, 2e-2, 2e-2, 5e-2}}) {
    const std::string tag = tm.name + ", " + pr.name + ": ";
    Model<float> gpu(cfg, std::make_unique<CudaBackend>(0, pr.precision));
    gpu.backend().upload(gpu.data(), weights.data(), sizeof(float) * weights.size());

    Floats got_logits(want_logits.size());
    Inference<float>(gpu).logits(plain, got_logits.data());
    // Only unmasked rows are specified.
    Floats g, w;
    for (int64_t n = 0; n < batch.B * batch.T; n++) {
      if (batch.mask[n] == 0) continue;
      const size_t at = static_cast<size_t>(n) * cfg.vocab_size;
      g.insert(g.end(), got_logits.begin() + at, got_logits.begin() + at + cfg.vocab_size);
      w.insert(w.end(), want_logits.begin() + at, want_logits.begin() + at + cfg.vocab_size);
    }
    expect_close(tag + "logits", rel_max(g, w), pr.logits_tol);

    std::vector<double> sums(batch.B);
    Inference<float>(gpu).sequence_logprobs(batch.host(), sums.data(), counts.data());
    double logp_err = 0;
    for (int64_t s = 0; s < batch.B; s++) {
      logp_err = std::max(logp_err, std::fabs(sums[s] - want_sums[s]) / counts[s]);
    }
    expect_close(tag + "mean per-token log-prob", logp_err, pr.logp_tol);

    const StepResult got = dpo_step(gpu, weights, tm, batch, ref, true, false);
    expect_close(tag + "dpo_norm loss", std::fabs(got.metrics.loss - want.metrics.loss),
                 pr.loss_tol);
    expect_close(tag + "reward margin",
                 std::fabs(got.metrics.rewards_margin - want.metrics.rewards_margin),
                 pr.loss_tol * 10);
    const double gerr = rel_l2(got.grads, want.grads);
    char buf[200];
    std::snprintf(buf, sizeof buf, "(error %.2e, tolerance %.0e; %s)", gerr, pr.grad_tol,
                  worst_tensor(gpu, got.grads, want.grads).c_str());
    report(tag + "gradients", gerr <= pr.grad_tol, buf);
    expect_close(tag + "gradient norm",
                 std::fabs(got.metrics.grad_norm - want.metrics.grad_norm) / want.metrics.grad_norm,
                 pr.grad_tol);
    std::snprintf(buf, sizeof buf, "(error %.2e, tolerance %.0e; CPU loss %.6f -> %.6f)",
                  std::fabs(got.loss_after - want.loss_after), pr.loss_tol * 2,
                  want.metrics.loss, want.loss_after);
    report(tag + "loss after one AdamW step",
           std::fabs(got.loss_after - want.loss_after) <= pr.loss_tol * 2, buf);

    // Recomputing blocks in the backward and running twice change nothing.
    const StepResult again = dpo_step(gpu, weights, tm, batch, ref, false, false);
    expect_close(tag + "two runs give the same gradients", rel_max(again.grads, got.grads), 0);
    const StepResult rec = dpo_step(gpu, weights, tm, batch, ref, false, true);
    std::snprintf(buf, sizeof buf, "(error %.2e; arena %.1f MiB -> %.1f MiB)",
                  rel_max(rec.grads, got.grads), got.arena_bytes / 1048576.0,
                  rec.arena_bytes / 1048576.0);
    report(tag + "recompute gives the same gradients with a smaller arena",
           rel_max(rec.grads, got.grads) <= 1e-6 && rec.arena_bytes < got.arena_bytes, buf);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string only = argc > 1 ? argv[1] : "";
  std::unique_ptr<CudaBackend> gpu_float, gpu_bf16;
  try {
    gpu_float = std::make_unique<CudaBackend>(0, MatmulPrecision::kFloat);
    gpu_bf16 = std::make_unique<CudaBackend>(0, MatmulPrecision::kBf16);
  } catch (const EngineError& e) {
    std::printf("skipped: %s\n", e.what());
    return 2;
  }
  std::printf("device: %s\n", gpu_float->device_name().c_str());
  try {
    cpu::CpuBackend<float> cpu(4);
    if (only.empty()) test_ops(cpu, *gpu_float, *gpu_bf16);
    for (const TinyModel& tm : tiny_models()) {
      if (tm.name.find(only) != std::string::npos) test_model(tm);
    }
  } catch (const std::exception& e) {
    report("unexpected exception", false, e.what());
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
