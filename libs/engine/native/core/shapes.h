// Shape letters used in every file of the engine, defined once here, and the sizes derived
// from a model config and a batch. Nothing here allocates or computes.
#pragma once

#include <cstdint>

namespace delta {

// The letters, as they appear in kernel signatures and comments:
//   B   sequences in a micro-batch          T   time steps (padded length)
//   N   rows = B * T                        C   channels (hidden_size)
//   NH  query heads                         NKV key/value heads (grouped-query attention)
//   HS  head size                           QD  NH * HS,  KVD  NKV * HS
//   QKV QD + 2 * KVD (fused q, k, v rows)   H   MLP hidden size (intermediate_size)
//   V   vocabulary                          L   layers
//   R   rows of a log-prob chunk (lm head applied R rows at a time)
struct Dims {
  int64_t C = 0, NH = 0, NKV = 0, HS = 0, H = 0, V = 0, L = 0;

  int64_t QD() const { return NH * HS; }
  int64_t KVD() const { return NKV * HS; }
  int64_t QKV() const { return QD() + 2 * KVD(); }
};

}  // namespace delta
