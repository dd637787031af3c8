// BarkPostProcessor against barkbook.detector.postprocess (golden data in postprocess_golden.h, written by
// nbs/22_firmware.ipynb): every step's decision, class, confidence and averaged score, bit for bit.
// Build and run: make -C firmware test
#include "bark_postprocess.h"
#include "postprocess_golden.h"
#include "unit_test.h"

int main() {
  BarkDetectorConfig cfg;
  cfg.confidence_threshold = golden::kThreshold;
  cfg.min_bark_duration_ms = golden::kMinBarkDurationMs;
  cfg.average_window = golden::kAverageWindow;
  cfg.suppression_ms = golden::kSuppressionMs;
  cfg.hop_ms = golden::kHopMs;
  static BarkPostProcessor post;
  CHECK(post.configure(cfg, golden::kClasses), "configure");
  int detections = 0;
  for (int i = 0; i < golden::kSteps; ++i) {
    const DetectionResult r = post.step(golden::kScores + i * golden::kClasses);
    CHECK(r.step == static_cast<uint32_t>(i), "step %u", r.step);
    CHECK(r.is_bark == (golden::kIsBark[i] != 0), "step %d: is_bark %d", i, r.is_bark);
    CHECK(r.detected_class == golden::kDetectedClass[i], "step %d: class %d != %d", i, r.detected_class, golden::kDetectedClass[i]);
    CHECK(r.confidence == golden::kConfidence[i], "step %d: confidence %.9g != %.9g", i, r.confidence, golden::kConfidence[i]);
    CHECK(r.bark_score == golden::kBarkScore[i], "step %d: bark score %.9g != %.9g", i, r.bark_score, golden::kBarkScore[i]);
    detections += r.is_bark;
  }
  CHECK(detections > 0, "the golden scores contain detections");
  BarkDetectorConfig bad = cfg;
  bad.average_window = det::kMaxAverageWindow + 1;
  CHECK(!post.configure(bad, golden::kClasses), "average_window over the maximum is refused");
  CHECK(bark_class_to_string(-1)[0] == 'n' && bark_class_to_string(det::kNumClasses)[0] == 'u', "none / unknown labels");
  return unit_test_result("bark_postprocess_test");
}
