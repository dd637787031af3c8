// Device glue: BarkDetector::initialize(config) with the TFLM model of lib/neural_network. Needs esp-tflite-micro
// (PlatformIO / ESP-IDF on the device; the host TFLM build of barkbook.firmware in the tests).
#include "bark_detector.h"
#include "model_settings.h"
#include "neural_network.h"

#ifndef BARKBOOK_MODEL_INPUT_LOGMEL
#error "model_settings.h has no log-mel model: the firmware front-end feeds log-mel features (train with input kind 'logmel')"
#endif

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
  if (g_network.initialize() != NNStatus::kOk) {
    status_ = BarkStatus::kModelInitFailed;
    return false;
  }
  return initialize(config, g_model_adapter);
}

// The TFLM status behind kModelInitFailed, for the serial log.
const char* bark_model_status_string() { return nn_status_to_string(g_network.status()); }

// Arena bytes TFLM used when the model was set up (0 before initialize()).
size_t bark_model_arena_used_bytes() { return g_network.arena_used_bytes(); }
