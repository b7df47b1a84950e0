// The Node-API face of the engine: NativeModel (parameters, logits, sequence log-probs) and
// NativeTrainer (optimizer steps, gradients and AdamW state for checkpoints). Heavy calls run
// on the libuv thread pool and return promises; one call at a time per model.
#include <napi.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/inference.h"
#include "core/trainer.h"
#include "cpu/cpu_backend.h"
#include "napi/convert.h"
#ifdef DELTA_ENGINE_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace delta::napi {

namespace {

using F = float;

// Marks a model busy for the lifetime of a call; a second call fails instead of racing.
class BusyGuard {
 public:
  explicit BusyGuard(std::atomic<bool>& flag) : flag_(flag) {
    bool expected = false;
    if (!flag_.compare_exchange_strong(expected, true)) {
      fail(ErrorCode::kInvalidState,
           "the model is busy with another call (await the previous step or forward first)");
    }
  }
  ~BusyGuard() {
    if (owned_) flag_.store(false);
  }
  void release_to_worker() { owned_ = false; }

 private:
  std::atomic<bool>& flag_;
  bool owned_ = true;
};

// Runs work() on the thread pool and settles a promise with result() or the engine error.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, std::atomic<bool>& busy, std::function<void()> work,
                std::function<Napi::Value(Napi::Env)> result)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        busy_(busy),
        work_(std::move(work)),
        result_(std::move(result)) {}

  Napi::Promise promise() { return deferred_.Promise(); }
  // Keeps JS objects (typed arrays, the model) alive until the work is done.
  void hold(const Napi::Value& v) { held_.push_back(Napi::Persistent(v.As<Napi::Object>())); }

  void Execute() override {
    try {
      work_();
    } catch (const EngineError& e) {
      code_ = e.code_name();
      SetError(e.what());
    } catch (const std::exception& e) {
      code_ = "INTERNAL";
      SetError(e.what());
    }
  }

  void OnOK() override {
    busy_.store(false);
    deferred_.Resolve(result_(Env()));
  }

  void OnError(const Napi::Error& e) override {
    busy_.store(false);
    e.Value().Set("code", Napi::String::New(Env(), code_));
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::atomic<bool>& busy_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> result_;
  std::vector<Napi::ObjectReference> held_;
  std::string code_ = "INTERNAL";
};

// Calls fn, turning an EngineError into a thrown JS error with its code.
template <typename Fn>
auto guarded(Napi::Env env, Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const EngineError& e) {
    throw_engine_error(env, e);
  }
}

// The devices this build computes on, as engineBackends() reports them.
#ifdef DELTA_ENGINE_WITH_CUDA
constexpr const char* kBackends = "cpu,cuda";
#else
constexpr const char* kBackends = "cpu";
#endif

// The backend for a device name: "cpu", or "cuda" / "cuda:N" where this build has CUDA.
std::unique_ptr<Backend<F>> make_backend(const std::string& device, int threads) {
  if (device == "cpu") return std::make_unique<cpu::CpuBackend<F>>(threads);
  if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
#ifdef DELTA_ENGINE_WITH_CUDA
    const int index = device == "cuda" ? 0 : std::atoi(device.c_str() + 5);
    return std::make_unique<cuda::CudaBackend>(index);
#else
    fail(ErrorCode::kInvalidState,
         "device '" + device + "' is not available: this build of the engine has no CUDA "
         "backend (CMake found no nvcc when it was built); use device 'cpu'");
#endif
  }
  fail(ErrorCode::kInvalidArgument, "device must be 'cpu' or 'cuda', not '" + device + "'");
}

HostBatch batch_from(const Napi::Object& o, bool with_targets) {
  HostBatch b;
  b.B = integer_field(o, "batch", "B");
  b.T = integer_field(o, "batch", "T");
  if (b.B < 1 || b.T < 1) fail(ErrorCode::kInvalidArgument, "batch.B and batch.T must be >= 1");
  const size_t n = static_cast<size_t>(b.B * b.T);
  b.ids = typed_data<int32_t>(o.Get("ids"), "batch.ids", n);
  b.pos = typed_data<int32_t>(o.Get("positions"), "batch.positions", n);
  b.mask = typed_data<int32_t>(o.Get("mask"), "batch.mask", n);
  if (with_targets) {
    b.targets = typed_data<int32_t>(o.Get("targets"), "batch.targets", n);
  }
  return b;
}

void hold_batch(PromiseWorker* w, const Napi::Object& o, bool with_targets) {
  w->hold(o.Get("ids"));
  w->hold(o.Get("positions"));
  w->hold(o.Get("mask"));
  if (with_targets) w->hold(o.Get("targets"));
}

}  // namespace

class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "NativeModel",
        {InstanceMethod<&NativeModel::ParamTable>("paramTable"),
         InstanceMethod<&NativeModel::ReadParam>("readParam"),
         InstanceMethod<&NativeModel::WriteParam>("writeParam"),
         InstanceMethod<&NativeModel::InitRandom>("initRandom"),
         InstanceMethod<&NativeModel::SetThreads>("setThreads"),
         InstanceMethod<&NativeModel::Logits>("logits"),
         InstanceMethod<&NativeModel::SequenceLogProbs>("sequenceLogProbs"),
         InstanceMethod<&NativeModel::WorkspaceBytes>("workspaceBytes")});
  }

  NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsNumber() ||
          (info.Length() > 2 && !info[2].IsString() && !info[2].IsUndefined())) {
        fail(ErrorCode::kInvalidArgument, "new NativeModel(config, threads, device?)");
      }
      const ModelConfig config = model_config_from(info[0].As<Napi::Object>());
      threads_ = std::max(1, info[1].As<Napi::Number>().Int32Value());
      const std::string device =
          info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "cpu";
      model_ = std::make_unique<Model<F>>(config, make_backend(device, threads_));
      inference_ = std::make_unique<Inference<F>>(*model_);
    });
  }

  Model<F>& model() { return *model_; }
  std::atomic<bool>& busy() { return busy_; }

 private:
  Napi::Value ParamTable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    for (const ParamInfo& p : model_->params()) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", p.name);
      Napi::Array shape = Napi::Array::New(env, p.shape.size());
      for (uint32_t k = 0; k < p.shape.size(); k++) {
        shape.Set(k, Napi::Number::New(env, static_cast<double>(p.shape[k])));
      }
      o.Set("shape", shape);
      o.Set("size", Napi::Number::New(env, static_cast<double>(p.size)));
      out.Set(i++, o);
    }
    return out;
  }

  // readParam(name, out: Float32Array) / writeParam(name, data: Float32Array)
  Napi::Value ReadParam(const Napi::CallbackInfo& info) { return CopyParam(info, false); }
  Napi::Value WriteParam(const Napi::CallbackInfo& info) { return CopyParam(info, true); }

  Napi::Value CopyParam(const Napi::CallbackInfo& info, bool write) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      BusyGuard guard(busy_);
      if (info.Length() < 2 || !info[0].IsString()) {
        fail(ErrorCode::kInvalidArgument, "expected (name, Float32Array)");
      }
      const ParamInfo& p = model_->param(info[0].As<Napi::String>().Utf8Value());
      F* data = typed_data<F>(info[1], p.name.c_str(), p.size);
      if (write) {
        model_->backend().upload(model_->data() + p.offset, data, sizeof(F) * p.size);
      } else {
        model_->backend().download(data, model_->data() + p.offset, sizeof(F) * p.size);
      }
    });
    return env.Undefined();
  }

  // initRandom(seed, std)
  Napi::Value InitRandom(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      BusyGuard guard(busy_);
      if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
        fail(ErrorCode::kInvalidArgument, "expected (seed, std)");
      }
      const double seed = info[0].As<Napi::Number>().DoubleValue();
      if (seed < 0 || seed != static_cast<double>(static_cast<uint64_t>(seed))) {
        fail(ErrorCode::kInvalidArgument, "seed must be a non-negative integer");
      }
      model_->init_random(static_cast<uint64_t>(seed), info[1].As<Napi::Number>().DoubleValue());
    });
    return env.Undefined();
  }

  Napi::Value SetThreads(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      BusyGuard guard(busy_);
      if (info.Length() < 1 || !info[0].IsNumber()) {
        fail(ErrorCode::kInvalidArgument, "expected (threads)");
      }
      threads_ = std::max(1, info[0].As<Napi::Number>().Int32Value());
      model_->backend().set_threads(threads_);
    });
    return env.Undefined();
  }

  Napi::Value WorkspaceBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(inference_->workspace_bytes()));
  }

  // logits(batch, out: Float32Array [B*T*V]) -> Promise<void>
  Napi::Value Logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (info.Length() < 2 || !info[0].IsObject()) {
        fail(ErrorCode::kInvalidArgument, "expected (batch, out)");
      }
      Napi::Object bo = info[0].As<Napi::Object>();
      const HostBatch b = batch_from(bo, false);
      F* out = typed_data<F>(info[1], "out",
                                                 static_cast<size_t>(b.B * b.T * model_->dims().V));
      BusyGuard guard(busy_);
      auto* w = new PromiseWorker(
          env, busy_, [this, b, out] { inference_->logits(b, out); },
          [](Napi::Env e) { return e.Undefined(); });
      hold_batch(w, bo, false);
      w->hold(info[1]);
      w->hold(Value());
      guard.release_to_worker();
      w->Queue();
      return w->promise();
    });
  }

  // sequenceLogProbs(batch, sums: Float64Array [B], counts: Int32Array [B]) -> Promise<void>
  Napi::Value SequenceLogProbs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (info.Length() < 3 || !info[0].IsObject()) {
        fail(ErrorCode::kInvalidArgument, "expected (batch, sums, counts)");
      }
      Napi::Object bo = info[0].As<Napi::Object>();
      const HostBatch b = batch_from(bo, true);
      double* sums = typed_data<double>(info[1], "sums", b.B);
      int32_t* counts = typed_data<int32_t>(info[2], "counts", b.B);
      BusyGuard guard(busy_);
      auto* w = new PromiseWorker(
          env, busy_, [this, b, sums, counts] { inference_->sequence_logprobs(b, sums, counts); },
          [](Napi::Env e) { return e.Undefined(); });
      hold_batch(w, bo, true);
      w->hold(info[1]);
      w->hold(info[2]);
      w->hold(Value());
      guard.release_to_worker();
      w->Queue();
      return w->promise();
    });
  }

  int threads_ = 1;
  std::unique_ptr<Model<F>> model_;
  std::unique_ptr<Inference<F>> inference_;
  std::atomic<bool> busy_{false};
};

class NativeTrainer : public Napi::ObjectWrap<NativeTrainer> {
 public:
  static Napi::Function Init(Napi::Env env, Napi::FunctionReference* model_ctor) {
    model_ctor_ = model_ctor;
    return DefineClass(env, "NativeTrainer",
                       {InstanceMethod<&NativeTrainer::Step>("step"),
                        InstanceMethod<&NativeTrainer::ReadState>("readState"),
                        InstanceMethod<&NativeTrainer::WriteState>("writeState"),
                        InstanceMethod<&NativeTrainer::StepsDone>("stepsDone"),
                        InstanceMethod<&NativeTrainer::SetStepsDone>("setStepsDone"),
                        InstanceMethod<&NativeTrainer::ArenaBytes>("arenaBytes")});
  }

  NativeTrainer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTrainer>(info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject() ||
          !info[0].As<Napi::Object>().InstanceOf(model_ctor_->Value())) {
        fail(ErrorCode::kInvalidArgument, "new NativeTrainer(model: NativeModel, config)");
      }
      model_ = NativeModel::Unwrap(info[0].As<Napi::Object>());
      model_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
      BusyGuard guard(model_->busy());
      trainer_ = std::make_unique<Trainer<F>>(model_->model(),
                                              trainer_config_from(info[1].As<Napi::Object>()));
    });
  }

 private:
  // step(micro: batch[], ref: Float64Array | null, refCounts: Int32Array | null, apply)
  Napi::Value Step(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (info.Length() < 4 || !info[0].IsArray() || !info[3].IsBoolean()) {
        fail(ErrorCode::kInvalidArgument, "expected (microBatches, ref, refCounts, apply)");
      }
      Napi::Array arr = info[0].As<Napi::Array>();
      StepInput in;
      for (uint32_t i = 0; i < arr.Length(); i++) {
        in.micro.push_back(batch_from(arr.Get(i).As<Napi::Object>(), true));
      }
      if (!info[1].IsNull() && !info[1].IsUndefined()) {
        Napi::Float64Array ref = info[1].As<Napi::Float64Array>();
        in.ref = typed_data<double>(info[1], "ref", 0);
        in.ref_pairs = static_cast<int64_t>(ref.ElementLength() / 2);
        if (!info[2].IsNull() && !info[2].IsUndefined()) {
          in.ref_counts = typed_data<int32_t>(info[2], "refCounts",
                                                                ref.ElementLength());
        }
      }
      const bool apply = info[3].As<Napi::Boolean>().Value();
      BusyGuard guard(model_->busy());
      auto metrics = std::make_shared<StepMetrics>();
      auto* w = new PromiseWorker(
          env, model_->busy(),
          [this, in, apply, metrics] { *metrics = trainer_->step(in, apply); },
          [metrics](Napi::Env e) { return metrics_object(e, *metrics); });
      for (uint32_t i = 0; i < arr.Length(); i++) {
        hold_batch(w, arr.Get(i).As<Napi::Object>(), true);
      }
      if (in.ref) w->hold(info[1]);
      if (in.ref_counts) w->hold(info[2]);
      w->hold(Value());
      guard.release_to_worker();
      w->Queue();
      return w->promise();
    });
  }

  static Napi::Value metrics_object(Napi::Env env, const StepMetrics& m) {
    Napi::Object o = Napi::Object::New(env);
    auto set = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
    set("step", static_cast<double>(m.step));
    set("loss", m.loss);
    set("gradNorm", m.grad_norm);
    set("lr", m.lr);
    set("rewardsChosen", m.rewards_chosen);
    set("rewardsRejected", m.rewards_rejected);
    set("rewardsMargin", m.rewards_margin);
    set("rewardsAccuracy", m.rewards_accuracy);
    set("logpsChosen", m.logps_chosen);
    set("logpsRejected", m.logps_rejected);
    set("nllChosen", m.nll_chosen);
    set("pairs", static_cast<double>(m.pairs));
    set("sequences", static_cast<double>(m.sequences));
    set("tokens", static_cast<double>(m.tokens));
    set("lossTokens", static_cast<double>(m.loss_tokens));
    set("seconds", m.seconds);
    set("tokensPerSecond", m.tokens_per_second);
    set("matmulFlops", m.matmul_flops);
    return o;
  }

  F* state_pointer(const std::string& kind) {
    if (kind == "grad") return trainer_->grads();
    if (kind == "exp_avg") return trainer_->exp_avg();
    if (kind == "exp_avg_sq") return trainer_->exp_avg_sq();
    fail(ErrorCode::kInvalidArgument, "state kind must be grad, exp_avg or exp_avg_sq");
  }

  // readState(kind, name, out) / writeState(kind, name, data): one tensor of optimizer state.
  Napi::Value ReadState(const Napi::CallbackInfo& info) { return CopyState(info, false); }
  Napi::Value WriteState(const Napi::CallbackInfo& info) { return CopyState(info, true); }

  Napi::Value CopyState(const Napi::CallbackInfo& info, bool write) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      BusyGuard guard(model_->busy());
      if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString()) {
        fail(ErrorCode::kInvalidArgument, "expected (kind, name, Float32Array)");
      }
      F* base = state_pointer(info[0].As<Napi::String>().Utf8Value());
      const ParamInfo& p = model_->model().param(info[1].As<Napi::String>().Utf8Value());
      F* data = typed_data<F>(info[2], p.name.c_str(), p.size);
      Backend<F>& be = model_->model().backend();
      if (write) {
        be.upload(base + p.offset, data, sizeof(F) * p.size);
      } else {
        be.download(data, base + p.offset, sizeof(F) * p.size);
      }
    });
    return env.Undefined();
  }

  Napi::Value StepsDone(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(trainer_->steps_done()));
  }

  Napi::Value SetStepsDone(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int64Value() < 0) {
        fail(ErrorCode::kInvalidArgument, "expected a non-negative step count");
      }
      trainer_->set_steps_done(info[0].As<Napi::Number>().Int64Value());
    });
    return env.Undefined();
  }

  Napi::Value ArenaBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(trainer_->arena_bytes()));
  }

  static Napi::FunctionReference* model_ctor_;
  NativeModel* model_ = nullptr;
  Napi::ObjectReference model_ref_;
  std::unique_ptr<Trainer<F>> trainer_;
};

Napi::FunctionReference* NativeTrainer::model_ctor_ = nullptr;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Function model = NativeModel::Init(env);
  auto* model_ctor = new Napi::FunctionReference(Napi::Persistent(model));
  env.SetInstanceData(model_ctor);
  exports.Set("NativeModel", model);
  exports.Set("NativeTrainer", NativeTrainer::Init(env, model_ctor));
  exports.Set("backend", Napi::String::New(env, kBackends));
  return exports;
}

}  // namespace delta::napi

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return delta::napi::Init(env, exports);
}

NODE_API_MODULE(delta_engine, InitAddon)
