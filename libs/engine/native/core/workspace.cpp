// Carves a Workspace out of one allocation: a first pass measures, a second assigns.
#include "core/workspace.h"

#include <algorithm>

#include "core/error.h"

namespace delta {

namespace {

// Hands out aligned sub-buffers of a base pointer; with base == nullptr it only measures.
class Carver {
 public:
  explicit Carver(char* base) : base_(base) {}
  template <typename U>
  U* take(int64_t count) {
    const size_t at = (used_ + 63) / 64 * 64;
    used_ = at + sizeof(U) * static_cast<size_t>(std::max<int64_t>(count, 1));
    return base_ ? reinterpret_cast<U*>(base_ + at) : nullptr;
  }
  size_t used() const { return used_; }

 private:
  char* base_;
  size_t used_ = 0;
};

}  // namespace

template <typename F>
Workspace<F>::Workspace(Backend<F>& backend, const Dims& d, const WorkspacePlan& plan)
    : backend_(backend), plan_(plan) {
  if (plan.max_B <= 0 || plan.max_T <= 0) {
    fail(ErrorCode::kInvalidArgument, "workspace needs a positive batch size and length");
  }
  const int64_t Nc = plan.max_B * plan.max_T;
  chunk_rows = std::max<int64_t>(1, std::min<int64_t>(Nc, plan.logits_budget_elements / d.V));
  const int64_t sets = plan.training && !plan.recompute ? d.L : 1;
  const int64_t state = backend.attention_state_elements(plan.max_B, plan.max_T, d.NH);

  auto carve = [&](Carver& c) {
    ids = c.take<int32_t>(Nc);
    pos = c.take<int32_t>(Nc);
    mask = c.take<int32_t>(Nc);
    rows = c.take<int32_t>(Nc);
    row_targets = c.take<int32_t>(Nc);
    cos = c.take<F>(Nc * d.HS / 2);
    sin = c.take<F>(Nc * d.HS / 2);
    layers_.assign(sets, Layer{});
    residuals_.assign(plan.training ? d.L + 1 : 2, nullptr);
    for (F*& r : residuals_) r = c.take<F>(Nc * d.C);
    for (Layer& l : layers_) {
      l.rstd1 = c.take<F>(Nc);
      l.qkv = c.take<F>(Nc * d.QKV());
      l.probs = c.take<F>(state);
      l.att = c.take<F>(Nc * d.QD());
      l.x_mid = c.take<F>(Nc * d.C);
      l.rstd2 = c.take<F>(Nc);
      l.gu = c.take<F>(Nc * 2 * d.H);
    }
    rstdf = c.take<F>(Nc);
    xnf = c.take<F>(Nc * d.C);
    xsel = c.take<F>(Nc * d.C);
    logits = c.take<F>(chunk_rows * d.V);
    lse = c.take<F>(Nc);
    logp = c.take<F>(Nc);
    dlogp = c.take<F>(Nc);
    xn = c.take<F>(Nc * d.C);
    h = c.take<F>(Nc * d.H);
    if (plan.training) {
      dx = c.take<F>(Nc * d.C);
      dxn = c.take<F>(Nc * d.C);
      dqkv = c.take<F>(Nc * d.QKV());
      datt = c.take<F>(Nc * d.QD());
      dgu = c.take<F>(Nc * 2 * d.H);
      dh = c.take<F>(Nc * d.H);
      dxsel = c.take<F>(Nc * d.C);
    } else {
      dx = dxn = dqkv = datt = dgu = dh = dxsel = nullptr;
    }
  };

  Carver measure(nullptr);
  carve(measure);
  bytes_ = measure.used();
  base_ = backend.alloc(bytes_);
  Carver assign(static_cast<char*>(base_));
  carve(assign);
}

template <typename F>
Workspace<F>::~Workspace() {
  backend_.release(base_);
}

template <typename F>
F* Workspace<F>::residual(int64_t l) {
  // Training keeps L + 1 residual buffers; inference ping-pongs between two.
  const int64_t i = l + 1;
  return plan_.training ? residuals_[i] : residuals_[i % 2];
}

template class Workspace<float>;
template class Workspace<double>;

}  // namespace delta
