#include "neural_network.h"

#include <string.h>

#include "model_settings.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/schema/schema_utils.h"

#ifdef BARKBOOK_MODEL_NONE
#error "model_settings.h was generated without a model: regenerate it with the run's model (make pipeline)"
#endif
#ifndef TFLITE_SCHEMA_VERSION  // not exported by every TFLM version's headers
#define TFLITE_SCHEMA_VERSION 3
#endif

namespace {
using ModelOpResolver = tflite::MicroMutableOpResolver<model::kOpCount>;

// The arena lives in .bss (internal RAM), 16-byte aligned; its size comes from the conversion step (measured with
// this code + a stated margin), never from a hand-edited number.
alignas(16) uint8_t g_arena[model::kTensorArenaSize];
ModelOpResolver g_resolver;
tflite::MicroInterpreter* g_interpreter = nullptr;

// Registers exactly the operators model_settings.h lists for the model.
TfLiteStatus register_ops(ModelOpResolver& resolver) {
#define BARKBOOK_ADD_OP(name) \
  if (resolver.Add##name() != kTfLiteOk) return kTfLiteError;
  BARKBOOK_MODEL_OPS(BARKBOOK_ADD_OP)
#undef BARKBOOK_ADD_OP
  return kTfLiteOk;
}
}  // namespace

const char* nn_status_to_string(NNStatus s) {
  switch (s) {
    case NNStatus::kOk: return "ok";
    case NNStatus::kSchemaVersionMismatch: return "model schema version mismatch";
    case NNStatus::kMissingOp: return "model uses an op that model_settings.h does not list";
    case NNStatus::kOpRegistrationFailed: return "op registration failed";
    case NNStatus::kArenaTooSmall: return "tensor arena too small (AllocateTensors failed)";
    case NNStatus::kBadInput: return "input tensor is not int8 of the expected size";
    case NNStatus::kBadOutput: return "output tensor is not int8 of the expected size";
    case NNStatus::kInvokeFailed: return "Invoke failed";
    case NNStatus::kNotInitialized: return "not initialised";
    case NNStatus::kBadArgument: return "bad argument";
  }
  return "unknown";
}

size_t NeuralNetwork::arena_size() { return sizeof(g_arena); }

NNStatus NeuralNetwork::initialize() {
  if (initialized_) return status_;
  initialized_ = true;
  const tflite::Model* model = tflite::GetModel(model::g_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) return status_ = NNStatus::kSchemaVersionMismatch;
  if (register_ops(g_resolver) != kTfLiteOk) return status_ = NNStatus::kOpRegistrationFailed;
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
  // Guards the memcpy in predict(): the tensors must have the sizes model_settings.h was generated with.
  const TfLiteTensor* in = interpreter.input(0);
  if (in == nullptr || in->type != kTfLiteInt8 || in->bytes != static_cast<size_t>(model::kInputSize))
    return status_ = NNStatus::kBadInput;
  const TfLiteTensor* out = interpreter.output(0);
  if (out == nullptr || out->type != kTfLiteInt8 || out->bytes != static_cast<size_t>(model::kOutputSize))
    return status_ = NNStatus::kBadOutput;
  input_size_ = in->bytes;
  num_classes_ = model::kOutputSize;
  g_interpreter = &interpreter;
  return status_ = NNStatus::kOk;
}

NNStatus NeuralNetwork::invoke(const int8_t* input, size_t n, size_t n_out) {
  if (g_interpreter == nullptr) return NNStatus::kNotInitialized;
  if (n != input_size_ || n_out < static_cast<size_t>(num_classes_)) return NNStatus::kBadArgument;
  memcpy(g_interpreter->input(0)->data.int8, input, n);
  if (g_interpreter->Invoke() != kTfLiteOk) return NNStatus::kInvokeFailed;
  return NNStatus::kOk;
}

NNStatus NeuralNetwork::predict(const int8_t* input, size_t n, float* scores, size_t n_scores) {
  const NNStatus s = invoke(input, n, n_scores);
  if (s != NNStatus::kOk) return s;
  const int8_t* q = g_interpreter->output(0)->data.int8;
  for (int c = 0; c < num_classes_; ++c)
    scores[c] = static_cast<float>(static_cast<int>(q[c]) - model::kOutputZeroPoint) * model::kOutputScale;
  return NNStatus::kOk;
}

NNStatus NeuralNetwork::predict_int8(const int8_t* input, size_t n, int8_t* out, size_t n_out) {
  const NNStatus s = invoke(input, n, n_out);
  if (s != NNStatus::kOk) return s;
  memcpy(out, g_interpreter->output(0)->data.int8, static_cast<size_t>(num_classes_));
  return NNStatus::kOk;
}
