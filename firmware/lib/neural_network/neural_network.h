// Thin TensorFlow Lite Micro wrapper for the generated model (model_settings.h / model.cc beside this file, from
// barkbook.firmware.firmware_files). Static tensor arena of model::kTensorArenaSize bytes (never allocated per
// inference), an op resolver registering exactly the model's operators, int8 input copy, dequantised output scores,
// and a status for every way set-up fails. Needs esp-tflite-micro (see firmware/README.md); this header itself
// includes no TFLM headers.
#pragma once
#include <stddef.h>
#include <stdint.h>

enum class NNStatus : int {
  kOk = 0,
  kSchemaVersionMismatch = 1,  // g_model was written for another TFLite schema version
  kMissingOp = 2,              // the model uses an op model_settings.h does not list (regenerate with make pipeline)
  kOpRegistrationFailed = 3,   // registering the ops failed (resolver too small)
  kArenaTooSmall = 4,          // AllocateTensors failed: model::kTensorArenaSize is too small for this model
  kBadInput = 5,               // input tensor is not int8 of model::kInputSize elements
  kBadOutput = 6,              // output tensor is not int8 of model::kOutputSize elements
  kInvokeFailed = 7,
  kNotInitialized = 8,
  kBadArgument = 9,            // predict() called with the wrong input or output size
};
const char* nn_status_to_string(NNStatus s);

class NeuralNetwork {
 public:
  // Load model::g_model, register its ops, allocate tensors in the static arena. Safe to call more than once; later
  // calls return the first result.
  NNStatus initialize();
  // Copy input[n] (int8 features) into the input tensor, invoke, write num_classes() dequantised scores.
  NNStatus predict(const int8_t* input, size_t n, float* scores, size_t n_scores);
  // Copy input[n] into the input tensor, invoke, copy the raw int8 output to out[n_out].
  NNStatus predict_int8(const int8_t* input, size_t n, int8_t* out, size_t n_out);
  size_t input_size() const { return input_size_; }
  int num_classes() const { return num_classes_; }
  // Arena bytes TFLM actually used (after initialize()).
  size_t arena_used_bytes() const { return arena_used_; }
  static size_t arena_size();
  NNStatus status() const { return status_; }

 private:
  NNStatus invoke(const int8_t* input, size_t n, size_t n_out);
  NNStatus status_ = NNStatus::kNotInitialized;
  bool initialized_ = false;
  size_t input_size_ = 0;
  int num_classes_ = 0;
  size_t arena_used_ = 0;
};
