#include "neural_network.h"

#include <math.h>
#include <string.h>

#include "frontend_config.h"
#include "model.h"
#include "model_ops.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/schema/schema_utils.h"

#ifndef TFLITE_SCHEMA_VERSION  // not exported by every TFLM version's headers
#define TFLITE_SCHEMA_VERSION 3
#endif

namespace {
// The arena lives in .bss (internal RAM), 16-byte aligned; its size comes from the conversion report (measured in
// TFLite Micro + margin), never from a hand-edited number.
alignas(16) uint8_t g_arena[kTensorArenaSize];
ModelOpResolver g_resolver;
tflite::MicroInterpreter* g_interpreter = nullptr;
}  // namespace

const char* nn_status_to_string(NNStatus s) {
  switch (s) {
    case NNStatus::kOk: return "ok";
    case NNStatus::kSchemaVersionMismatch: return "model schema version mismatch";
    case NNStatus::kMissingOp: return "model uses an op that model_ops.h does not register";
    case NNStatus::kOpRegistrationFailed: return "op registration failed";
    case NNStatus::kArenaTooSmall: return "tensor arena too small (AllocateTensors failed)";
    case NNStatus::kBadInput: return "input tensor is not int8 of the expected size";
    case NNStatus::kBadOutput: return "output tensor is not int8 with kNumClasses scores";
    case NNStatus::kInputQuantMismatch: return "input quantisation differs from the front-end";
    case NNStatus::kInvokeFailed: return "Invoke failed";
    case NNStatus::kNotInitialized: return "not initialised";
    case NNStatus::kBadArgument: return "bad argument";
  }
  return "unknown";
}

size_t NeuralNetwork::arena_size() { return sizeof(g_arena); }

NNStatus NeuralNetwork::begin() {
  if (begun_) return status_;
  begun_ = true;
  const tflite::Model* model = tflite::GetModel(g_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) return status_ = NNStatus::kSchemaVersionMismatch;
  if (RegisterModelOps(g_resolver) != kTfLiteOk) return status_ = NNStatus::kOpRegistrationFailed;
  // Check every operator the model uses against the resolver before allocating, so a missing op is reported as
  // such instead of as a generic AllocateTensors failure.
  const auto* codes = model->operator_codes();
  for (unsigned i = 0; codes != nullptr && i < codes->size(); ++i) {
    const tflite::OperatorCode* code = codes->Get(i);
    const tflite::BuiltinOperator op = tflite::GetBuiltinCode(code);
    const bool found = op == tflite::BuiltinOperator_CUSTOM
                           ? (code->custom_code() != nullptr && g_resolver.FindOp(code->custom_code()->c_str()) != nullptr)
                           : g_resolver.FindOp(op) != nullptr;
    if (!found) return status_ = NNStatus::kMissingOp;
  }
  // Constructed once, in static storage (no heap).
  static tflite::MicroInterpreter interpreter(model, g_resolver, g_arena, sizeof(g_arena));
  if (interpreter.AllocateTensors() != kTfLiteOk) return status_ = NNStatus::kArenaTooSmall;
  arena_used_ = interpreter.arena_used_bytes();
  TfLiteTensor* in = interpreter.input(0);
  if (in == nullptr || in->type != kTfLiteInt8 || in->bytes != static_cast<size_t>(fe::kNumFrames * fe::kNumMels))
    return status_ = NNStatus::kBadInput;
  // The front-end quantises with its own scale / zero point: the model must expect the same.
  if (fabsf(in->params.scale - fe::kInputScale) > 1e-6f * fe::kInputScale ||
      in->params.zero_point != fe::kInputZeroPoint)
    return status_ = NNStatus::kInputQuantMismatch;
  TfLiteTensor* out = interpreter.output(0);
  if (out == nullptr || out->type != kTfLiteInt8 || out->bytes != static_cast<size_t>(kNumClasses))
    return status_ = NNStatus::kBadOutput;
  input_size_ = in->bytes;
  num_classes_ = kNumClasses;
  out_scale_ = out->params.scale;
  out_zero_point_ = out->params.zero_point;
  g_interpreter = &interpreter;
  return status_ = NNStatus::kOk;
}

NNStatus NeuralNetwork::predict(const int8_t* input, size_t n, float* scores, size_t n_scores) {
  if (g_interpreter == nullptr) return NNStatus::kNotInitialized;
  if (n != input_size_ || n_scores < static_cast<size_t>(num_classes_)) return NNStatus::kBadArgument;
  memcpy(g_interpreter->input(0)->data.int8, input, n);
  if (g_interpreter->Invoke() != kTfLiteOk) return NNStatus::kInvokeFailed;
  const int8_t* q = g_interpreter->output(0)->data.int8;
  for (int c = 0; c < num_classes_; ++c) scores[c] = (static_cast<int>(q[c]) - out_zero_point_) * out_scale_;
  return NNStatus::kOk;
}
