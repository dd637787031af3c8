#include "bark_postprocess.h"

const char* bark_class_to_string(int detected_class) {
  if (detected_class == -1) return "none";
  if (detected_class < 0 || detected_class >= det::kNumClasses) return "unknown";
  return det::kClassLabels[detected_class];
}

bool BarkPostProcessor::configure(const BarkDetectorConfig& cfg, int num_classes) {
  if (!(cfg.confidence_threshold >= 0.0f && cfg.confidence_threshold <= 1.0f)) return false;
  if (cfg.average_window < 1 || cfg.average_window > det::kMaxAverageWindow) return false;
  if (cfg.hop_ms == 0) return false;
  if (num_classes < 1 || cfg.bark_class < 0 || cfg.bark_class >= num_classes) return false;
  cfg_ = cfg;
  num_classes_ = num_classes;
  const uint32_t steps = (cfg.min_bark_duration_ms + cfg.hop_ms - 1) / cfg.hop_ms;
  min_steps_ = steps < 1 ? 1 : steps;
  reset();
  return true;
}

void BarkPostProcessor::reset() {
  for (uint32_t i = 0; i < det::kMaxAverageWindow; ++i) history_[i] = 0.0f;
  hist_len_ = hist_head_ = step_ = run_ = 0;
  has_last_ = false;
  last_detection_ = 0;
}

DetectionResult BarkPostProcessor::step(const float* scores) {
  DetectionResult r;
  const float bark = scores[cfg_.bark_class];
  float avg = bark;
  if (cfg_.enable_temporal_filter) {
    const uint32_t w = cfg_.average_window;
    history_[hist_head_] = bark;
    hist_head_ = (hist_head_ + 1) % w;
    if (hist_len_ < w) ++hist_len_;
    // Sum from the oldest stored score to the newest, then divide once (the order barkbook.detector uses).
    float sum = 0.0f;
    const uint32_t oldest = (hist_head_ + w - hist_len_) % w;
    for (uint32_t i = 0; i < hist_len_; ++i) sum += history_[(oldest + i) % w];
    avg = sum / static_cast<float>(hist_len_);
  }
  int top = 0;
  for (int c = 1; c < num_classes_; ++c)
    if (scores[c] > scores[top]) top = c;
  run_ = avg >= cfg_.confidence_threshold ? run_ + 1 : 0;
  const bool suppressed = has_last_ &&
      static_cast<uint64_t>(step_ - last_detection_) * cfg_.hop_ms < static_cast<uint64_t>(cfg_.suppression_ms);
  r.is_bark = run_ >= min_steps_ && !suppressed;
  if (r.is_bark) {
    has_last_ = true;
    last_detection_ = step_;
  }
  r.confidence = r.is_bark ? avg : scores[top];
  r.detected_class = r.is_bark ? cfg_.bark_class : top;
  r.timestamp_ms = static_cast<uint32_t>(static_cast<uint64_t>(step_) * cfg_.hop_ms);
  r.step = step_;
  r.bark_score = avg;
  r.inferences = 1;
  ++step_;
  return r;
}
