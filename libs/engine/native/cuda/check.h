// CUDA and cuBLAS status checks that raise the engine's one error type: an allocation failure
// becomes OUT_OF_MEMORY, anything else INTERNAL with the API's own name for the error.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "core/error.h"

namespace delta::cuda {

inline void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  const ErrorCode code =
      err == cudaErrorMemoryAllocation ? ErrorCode::kOutOfMemory : ErrorCode::kInternal;
  fail(code, std::string("CUDA ") + what + " failed: " + cudaGetErrorName(err) + " (" +
                 cudaGetErrorString(err) + ")");
}

// After a launch: a bad configuration shows at once; faults inside the kernel surface at the
// next call that synchronises (a download, a sum of squares).
inline void check_launch(const char* kernel) {
  check(cudaGetLastError(), kernel);
}

}  // namespace delta::cuda
