// BarkDetector (front-end framing, model steps every hop, post-processing) with a model that replays the scores
// of detector_golden.h (written by nbs/22_firmware.ipynb): the steps come on the device's grid and every step's
// result equals barkbook.detector.postprocess. No heap, any chunk size. Build and run: make -C firmware test
#include <math.h>
#include <string.h>

#include "bark_detector.h"
#include "detector_golden.h"
#include "unit_test.h"

namespace {
class ReplayModel : public ScoreModel {
 public:
  int num_classes() const override { return golden::kClasses; }
  size_t input_size() const override { return AudioProcessor::kWindowSize; }
  int predict(const int8_t*, size_t n, float* scores, size_t n_scores) override {
    if (n != input_size() || n_scores != static_cast<size_t>(golden::kClasses) || calls >= golden::kSteps) return 1;
    memcpy(scores, golden::kScores + calls * golden::kClasses, sizeof(float) * golden::kClasses);
    ++calls;
    return 0;
  }
  int calls = 0;
};

int16_t g_audio[golden::kSamples];
DetectionResult g_steps[golden::kSteps + 1];
int g_n = 0;
void on_step(const DetectionResult& r, void*) {
  if (g_n <= golden::kSteps) g_steps[g_n++] = r;
}
}  // namespace

int main() {
  for (int i = 0; i < golden::kSamples; ++i) g_audio[i] = static_cast<int16_t>(8000.0 * sin(0.2 * i));
  BarkDetectorConfig cfg;
  cfg.confidence_threshold = golden::kThreshold;
  cfg.min_bark_duration_ms = golden::kMinBarkDurationMs;
  cfg.average_window = golden::kAverageWindow;
  cfg.suppression_ms = golden::kSuppressionMs;
  cfg.hop_ms = golden::kHopMs;
  cfg.enable_temporal_filter = golden::kEnableTemporalFilter;   // every field from the golden, none from the
  cfg.peak_window = golden::kPeakWindow;                        // shipped defaults in model_settings.h
  cfg.vote_k = golden::kVoteK;
  cfg.vote_n = golden::kVoteN;
  cfg.enable_hysteresis = golden::kEnableHysteresis;
  cfg.off_threshold = golden::kOffThreshold;
  static ReplayModel model;
  static BarkDetector detector;
  detector.set_step_callback(on_step, nullptr);
  CHECK(detector.initialize(cfg, model), "initialize: %s", bark_status_to_string(detector.last_error()));
  for (size_t pos = 0, k = 3; pos < static_cast<size_t>(golden::kSamples); k = k * 13 % 4093 + 1) {
    const size_t take = k < golden::kSamples - pos ? k : golden::kSamples - pos;
    detector.process(g_audio + pos, take);
    pos += take;
  }
  CHECK(g_n == golden::kSteps && model.calls == golden::kSteps, "steps %d, model calls %d, expected %d", g_n, model.calls,
        golden::kSteps);
  for (int i = 0; i < g_n && i < golden::kSteps; ++i) {
    const DetectionResult& r = g_steps[i];
    CHECK(r.timestamp_ms == static_cast<uint32_t>(i) * golden::kHopMs, "step %d at %u ms", i, r.timestamp_ms);
    CHECK(r.is_bark == (golden::kIsBark[i] != 0), "step %d: is_bark %d", i, r.is_bark);
    CHECK(r.detected_class == golden::kDetectedClass[i], "step %d: class %d", i, r.detected_class);
    CHECK(r.confidence == golden::kConfidence[i] && r.bark_score == golden::kBarkScore[i], "step %d: scores", i);
  }
  const BarkDetectorStats st = detector.get_stats();
  CHECK(st.frames == static_cast<uint32_t>(AudioProcessor::frames_for(golden::kSamples)), "frames %u", st.frames);
  BarkDetectorConfig bad = cfg;
  bad.hop_ms = 250;  // not a whole number of 20 ms frames
  CHECK(!detector.initialize(bad, model) && detector.last_error() == BarkStatus::kBadConfig, "hop_ms 250 refused");
  return unit_test_result("bark_detector_test");
}
