// The activation arena of a model for a batch capacity: every buffer the forward and backward
// passes touch, sized up front and carved from one allocation, so a step allocates nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "core/backend.h"
#include "core/shapes.h"

namespace delta {

// How a workspace is planned: the largest batch it takes, whether it keeps every layer's
// activations for a backward pass, and the row count of one lm-head chunk. With recompute,
// training keeps only each layer's input and the backward recomputes a layer's activations
// just before it needs them: one layer's activations in memory instead of L, one more
// forward pass of the blocks in time.
struct WorkspacePlan {
  int64_t max_B = 0, max_T = 0;
  bool training = false;
  int64_t logits_budget_elements = 64ll << 20;  // bound on R * V
  bool recompute = false;
};

template <typename F>
class Workspace {
 public:
  Workspace(Backend<F>& backend, const Dims& dims, const WorkspacePlan& plan);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  const WorkspacePlan& plan() const { return plan_; }
  size_t bytes() const { return bytes_; }
  bool fits(int64_t B, int64_t T) const { return B <= plan_.max_B && T <= plan_.max_T; }

  // Activations saved for one layer (all layers share set 0 when not training or when they
  // are recomputed).
  struct Layer {
    F *rstd1, *qkv, *probs, *att, *x_mid, *rstd2, *gu;
  };
  Layer& layer(int64_t l) { return layers_[layers_.size() > 1 ? l : 0]; }
  // Whether the backward must recompute a layer's activations before using them.
  bool recomputes() const { return plan_.training && plan_.recompute; }
  // The residual stream after layer l (l = -1: the embeddings).
  F* residual(int64_t l);

  // The batch in use and its selected rows.
  int64_t B = 0, T = 0, N = 0, R = 0;
  int64_t chunk_rows = 0;    // rows per lm-head chunk
  bool logits_kept = false;  // all selected rows fit one chunk: backward reuses the logits

  int32_t *ids, *pos, *mask, *rows, *row_targets;
  F *cos, *sin;
  F *rstdf, *xnf, *xsel, *logits, *lse, *logp, *dlogp;
  F *xn, *h;                                   // scratch shared by all layers
  F *dx, *dxn, *dqkv, *datt, *dgu, *dh, *dxsel;  // backward scratch (training only)

 private:
  Backend<F>& backend_;
  WorkspacePlan plan_;
  void* base_ = nullptr;
  size_t bytes_ = 0;
  std::vector<Layer> layers_;
  std::vector<F*> residuals_;
};

}  // namespace delta
