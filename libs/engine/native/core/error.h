// The one error type native code throws. The Node-API layer turns it into a JS error whose
// `code` is the string below, so the TypeScript side can map it without parsing messages.
#pragma once

#include <stdexcept>
#include <string>

namespace delta {

enum class ErrorCode { kInvalidArgument, kInvalidConfig, kInvalidState, kOutOfMemory, kInternal };

// Carries a code and a message a user can act on (it names the field or index at fault).
class EngineError : public std::runtime_error {
 public:
  EngineError(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}

  ErrorCode code() const { return code_; }

  const char* code_name() const {
    switch (code_) {
      case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
      case ErrorCode::kInvalidConfig: return "INVALID_CONFIG";
      case ErrorCode::kInvalidState: return "INVALID_STATE";
      case ErrorCode::kOutOfMemory: return "OUT_OF_MEMORY";
      case ErrorCode::kInternal: return "INTERNAL";
    }
    return "INTERNAL";
  }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) {
  throw EngineError(code, message);
}

}  // namespace delta
