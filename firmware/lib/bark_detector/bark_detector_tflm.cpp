// Device glue: BarkDetector::initialize(config) with the TFLM model of lib/neural_network. Built by PlatformIO /
// ESP-IDF only (needs esp-tflite-micro); the host tests use initialize(config, model) with their own ScoreModel.
#include <string.h>

#include "bark_detector.h"
#include "model.h"
#include "neural_network.h"

#ifndef BARKBOOK_MODEL_INPUT_LOGMEL
#error "model.h is not a log-mel model: the firmware front-end feeds log-mel features (train with input kind 'logmel')"
#endif
static_assert(kInputFrames == fe::kNumFrames && kInputMels == fe::kNumMels,
              "model.h input shape differs from frontend_config.h: regenerate both from the same run (make pipeline)");

namespace {

class TflmScoreModel : public ScoreModel {
 public:
  explicit TflmScoreModel(NeuralNetwork& nn) : nn_(nn) {}
  int num_classes() const override { return nn_.num_classes(); }
  size_t input_size() const override { return nn_.input_size(); }
  int predict(const int8_t* input, size_t n, float* scores, size_t n_scores) override {
    return static_cast<int>(nn_.predict(input, n, scores, n_scores));
  }

 private:
  NeuralNetwork& nn_;
};

NeuralNetwork g_network;
TflmScoreModel g_model_adapter(g_network);

}  // namespace

bool BarkDetector::initialize(const BarkDetectorConfig& config) {
  if (g_network.begin() != NNStatus::kOk) {
    status_ = BarkStatus::kModelInitFailed;
    return false;
  }
  // The labels compiled into detector_config.h (bark_class_to_string, the operating point) must be the model's.
  if (kNumClasses != det::kNumClasses || kBarkClassIndex != det::kBarkClass) {
    status_ = BarkStatus::kLabelsMismatch;
    return false;
  }
  for (int c = 0; c < kNumClasses; ++c) {
    if (strcmp(kClassLabels[c], det::kClassLabels[c]) != 0) {
      status_ = BarkStatus::kLabelsMismatch;
      return false;
    }
  }
  return initialize(config, g_model_adapter);
}

// The TFLM status behind kModelInitFailed, for the serial log.
const char* bark_model_status_string() { return nn_status_to_string(g_network.status()); }
