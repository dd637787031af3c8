// BarkPostProcessor against barkbook.detector.postprocess (golden data in postprocess_golden.h, written by
// nbs/22_firmware.ipynb): for every case (today's rules, k of n, peak hold, hysteresis, all at once, the bounds)
// every step's decision, class, confidence and bark score, bit for bit.
// Build and run: make -C firmware test
#include "bark_postprocess.h"
#include "postprocess_golden.h"
#include "unit_test.h"

static BarkDetectorConfig golden_config(int c) {
  BarkDetectorConfig cfg;
  cfg.confidence_threshold = golden::kThreshold[c];
  cfg.min_bark_duration_ms = golden::kMinBarkDurationMs[c];
  cfg.enable_temporal_filter = golden::kEnableTemporalFilter[c] != 0;
  cfg.average_window = golden::kAverageWindow[c];
  cfg.suppression_ms = golden::kSuppressionMs[c];
  cfg.hop_ms = golden::kHopMs[c];
  cfg.peak_window = golden::kPeakWindow[c];
  cfg.vote_k = golden::kVoteK[c];
  cfg.vote_n = golden::kVoteN[c];
  cfg.enable_hysteresis = golden::kEnableHysteresis[c] != 0;
  cfg.off_threshold = golden::kOffThreshold[c];
  return cfg;
}

int main() {
  static BarkPostProcessor post;
  for (int c = 0; c < golden::kCases; ++c) {
    CHECK(post.configure(golden_config(c), golden::kClasses), "case %d: configure", c);
    int detections = 0;
    for (int i = 0; i < golden::kSteps; ++i) {
      const DetectionResult r = post.step(golden::kScores + i * golden::kClasses);
      const int g = c * golden::kSteps + i;
      CHECK(r.step == static_cast<uint32_t>(i), "case %d: step %u", c, r.step);
      CHECK(r.is_bark == (golden::kIsBark[g] != 0), "case %d step %d: is_bark %d", c, i, r.is_bark);
      CHECK(r.detected_class == golden::kDetectedClass[g], "case %d step %d: class %d != %d", c, i, r.detected_class,
            golden::kDetectedClass[g]);
      CHECK(r.confidence == golden::kConfidence[g], "case %d step %d: confidence %.9g != %.9g", c, i, r.confidence,
            golden::kConfidence[g]);
      CHECK(r.bark_score == golden::kBarkScore[g], "case %d step %d: bark score %.9g != %.9g", c, i, r.bark_score,
            golden::kBarkScore[g]);
      if (r.is_bark) CHECK(post.in_event() == golden_config(c).enable_hysteresis, "case %d step %d: event", c, i);
      detections += r.is_bark;
    }
    CHECK(detections > 0, "case %d: the golden scores contain detections", c);
  }
  // The defaults of the newer rules change nothing (today's detector).
  const BarkDetectorConfig d;
  CHECK(d.peak_window == 1 && d.vote_k == 1 && d.vote_n == 1 && !d.enable_hysteresis, "rule defaults are off");
  // Out-of-range settings are refused.
  const BarkDetectorConfig ok = golden_config(0);
  BarkDetectorConfig bad = ok;
  bad.average_window = det::kMaxAverageWindow + 1;
  CHECK(!post.configure(bad, golden::kClasses), "average_window over the maximum is refused");
  bad = ok; bad.peak_window = 0;
  CHECK(!post.configure(bad, golden::kClasses), "peak_window 0 is refused");
  bad = ok; bad.peak_window = det::kMaxAverageWindow + 1;
  CHECK(!post.configure(bad, golden::kClasses), "peak_window over the maximum is refused");
  bad = ok; bad.vote_n = det::kMaxAverageWindow + 1; bad.vote_k = 1;
  CHECK(!post.configure(bad, golden::kClasses), "vote_n over the maximum is refused");
  bad = ok; bad.vote_n = 3; bad.vote_k = 4;
  CHECK(!post.configure(bad, golden::kClasses), "vote_k > vote_n is refused");
  bad = ok; bad.vote_k = 0;
  CHECK(!post.configure(bad, golden::kClasses), "vote_k 0 is refused");
  bad = ok; bad.enable_hysteresis = true; bad.off_threshold = bad.confidence_threshold + 0.1f;
  CHECK(!post.configure(bad, golden::kClasses), "hysteresis with off > on is refused");
  bad.enable_hysteresis = false;
  CHECK(post.configure(bad, golden::kClasses), "off > on without hysteresis is accepted (unused)");
  bad.off_threshold = 1.5f;
  CHECK(!post.configure(bad, golden::kClasses), "off_threshold over 1 is refused");
  CHECK(bark_class_to_string(-1)[0] == 'n' && bark_class_to_string(det::kNumClasses)[0] == 'u', "none / unknown labels");
  return unit_test_result("bark_postprocess_test");
}
