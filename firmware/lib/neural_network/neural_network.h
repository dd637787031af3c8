// Thin TensorFlow Lite Micro wrapper for the generated model (model.h / model.cc / model_ops.h from
// nbs/03_convert_tflite). Static tensor arena of kTensorArenaSize bytes (never allocated per inference), the
// generated op resolver, int8 input copy, dequantised output scores, and an error code for every way set-up fails.
// Device-only: needs esp-tflite-micro (see firmware/README.md). This header itself includes no TFLM headers.
#pragma once
#include <stddef.h>
#include <stdint.h>

enum class NNStatus : int {
  kOk = 0,
  kSchemaVersionMismatch = 1,  // g_model was written for another TFLite schema version
  kMissingOp = 2,              // the model uses an op model_ops.h does not register (regenerate with make pipeline)
  kOpRegistrationFailed = 3,   // RegisterModelOps failed (resolver too small)
  kArenaTooSmall = 4,          // AllocateTensors failed: kTensorArenaSize is too small for this model
  kBadInput = 5,               // input tensor is not int8 of the expected size
  kBadOutput = 6,              // output tensor is not int8 with kNumClasses elements
  kInputQuantMismatch = 7,     // input scale / zero point differ from the front-end's int8 scaling
  kInvokeFailed = 8,
  kNotInitialized = 9,
  kBadArgument = 10,           // predict() called with the wrong input or output size
};
const char* nn_status_to_string(NNStatus s);

class NeuralNetwork {
 public:
  // Load g_model, register its ops, allocate tensors in the static arena. Safe to call once; later calls return the
  // first result.
  NNStatus begin();
  // Copy input[n] (int8 features) into the input tensor, invoke, write num_classes() dequantised scores.
  NNStatus predict(const int8_t* input, size_t n, float* scores, size_t n_scores);
  size_t input_size() const { return input_size_; }
  int num_classes() const { return num_classes_; }
  // Arena bytes TFLM actually used (after begin()).
  size_t arena_used_bytes() const { return arena_used_; }
  static size_t arena_size();
  NNStatus status() const { return status_; }

 private:
  NNStatus status_ = NNStatus::kNotInitialized;
  bool begun_ = false;
  size_t input_size_ = 0;
  int num_classes_ = 0;
  size_t arena_used_ = 0;
  float out_scale_ = 0.0f;
  int out_zero_point_ = 0;
};
