// Reading the addon's arguments: plain JS objects into ModelConfig and TrainerConfig, typed
// arrays into checked pointers. Every failure names the field at fault.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "core/config.h"
#include "core/error.h"
#include "core/trainer.h"

namespace delta::napi {

// Throws the JS error for an EngineError: message plus a `code` property.
[[noreturn]] void throw_engine_error(Napi::Env env, const EngineError& e);
Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);

ModelConfig model_config_from(const Napi::Object& obj);
TrainerConfig trainer_config_from(const Napi::Object& obj);

double number_field(const Napi::Object& obj, const char* path, const char* key);
int64_t integer_field(const Napi::Object& obj, const char* path, const char* key);

// The data pointer of a typed array argument of the expected type and minimum length.
template <typename E>
E* typed_data(const Napi::Value& v, const char* what, size_t min_length) {
  constexpr napi_typedarray_type expected =
      std::is_same_v<E, float>    ? napi_float32_array
      : std::is_same_v<E, double> ? napi_float64_array
                                  : napi_int32_array;
  if (!v.IsTypedArray()) {
    fail(ErrorCode::kInvalidArgument, std::string(what) + " must be a typed array");
  }
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != expected) {
    fail(ErrorCode::kInvalidArgument, std::string(what) + " has the wrong element type");
  }
  if (ta.ElementLength() < min_length) {
    fail(ErrorCode::kInvalidArgument, std::string(what) + " holds " +
                                          std::to_string(ta.ElementLength()) +
                                          " elements, needs " + std::to_string(min_length));
  }
  return reinterpret_cast<E*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
}

}  // namespace delta::napi
