// The model interface BarkDetector runs: int8 log-mel window in, dequantised class scores out.
// On the device it is the TFLM model (bark_detector_tflm.cpp wraps lib/neural_network); host tests plug in their
// own implementation. Portable C++17, no RTTI needed.
#pragma once
#include <stddef.h>
#include <stdint.h>

class ScoreModel {
 public:
  // Number of class scores predict() writes.
  virtual int num_classes() const = 0;
  // int8 elements predict() expects (frames * mels).
  virtual size_t input_size() const = 0;
  // Run on input[n] and write scores[n_scores] (probabilities). Returns 0 on success, a non-zero error code otherwise.
  virtual int predict(const int8_t* input, size_t n, float* scores, size_t n_scores) = 0;

 protected:
  ~ScoreModel() = default;  // never deleted through this interface (no heap)
};
