#include "bark_postprocess.h"

const char* bark_class_to_string(int detected_class) {
  if (detected_class == -1) return "none";
  if (detected_class < 0 || detected_class >= det::kNumClasses) return "unknown";
  return det::kClassLabels[detected_class];
}

bool BarkPostProcessor::configure(const BarkDetectorConfig& cfg, int num_classes) {
  if (!(cfg.confidence_threshold >= 0.0f && cfg.confidence_threshold <= 1.0f)) return false;
  if (!(cfg.off_threshold >= 0.0f && cfg.off_threshold <= 1.0f)) return false;
  if (cfg.enable_hysteresis && cfg.off_threshold > cfg.confidence_threshold) return false;
  if (cfg.average_window < 1 || cfg.average_window > det::kMaxAverageWindow) return false;
  if (cfg.peak_window < 1 || cfg.peak_window > det::kMaxAverageWindow) return false;
  if (cfg.vote_n < 1 || cfg.vote_n > det::kMaxAverageWindow) return false;
  if (cfg.vote_k < 1 || cfg.vote_k > cfg.vote_n) return false;
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
  for (uint32_t i = 0; i < det::kMaxAverageWindow; ++i) {
    history_[i] = raw_[i] = 0.0f;
    votes_[i] = 0;
  }
  hist_len_ = hist_head_ = raw_len_ = raw_head_ = vote_len_ = vote_head_ = step_ = run_ = 0;
  has_last_ = in_event_ = false;
  last_detection_ = 0;
}

// Push v into a circular buffer of capacity w (head: next slot, len: stored count); returns the oldest slot.
template <typename T>
static uint32_t push(T* buf, uint32_t w, uint32_t& head, uint32_t& len, T v) {
  buf[head] = v;
  head = (head + 1) % w;
  if (len < w) ++len;
  return (head + w - len) % w;
}

DetectionResult BarkPostProcessor::step(const float* scores) {
  DetectionResult r;
  // 1. Peak hold: the maximum of the last peak_window raw bark scores (exact).
  float held = scores[cfg_.bark_class];
  if (cfg_.peak_window > 1) {
    const uint32_t w = cfg_.peak_window;
    const uint32_t oldest = push(raw_, w, raw_head_, raw_len_, held);
    held = raw_[oldest];
    for (uint32_t i = 1; i < raw_len_; ++i) {
      const float v = raw_[(oldest + i) % w];
      if (v > held) held = v;
    }
  }
  // 2. Moving average: sum from the oldest stored score to the newest, then divide once (as barkbook.detector).
  float avg = held;
  if (cfg_.enable_temporal_filter) {
    const uint32_t w = cfg_.average_window;
    const uint32_t oldest = push(history_, w, hist_head_, hist_len_, held);
    float sum = 0.0f;
    for (uint32_t i = 0; i < hist_len_; ++i) sum += history_[(oldest + i) % w];
    avg = sum / static_cast<float>(hist_len_);
  }
  int top = 0;
  for (int c = 1; c < num_classes_; ++c)
    if (scores[c] > scores[top]) top = c;
  // 3. Hysteresis: the event ends below off_threshold; the vote and the run start afresh.
  if (in_event_ && avg < cfg_.off_threshold) {
    in_event_ = false;
    run_ = vote_len_ = vote_head_ = 0;
  }
  // 4. k of n: active when at least vote_k of the last vote_n steps (since the last clear) are above.
  const uint8_t above = avg >= cfg_.confidence_threshold ? 1 : 0;
  const uint32_t oldest = push(votes_, cfg_.vote_n, vote_head_, vote_len_, above);
  uint32_t count = 0;
  for (uint32_t i = 0; i < vote_len_; ++i) count += votes_[(oldest + i) % cfg_.vote_n];
  const bool active = count >= cfg_.vote_k;
  // 5. Consecutive active steps, suppression, no detection inside an event.
  run_ = active ? run_ + 1 : 0;
  const bool suppressed = has_last_ &&
      static_cast<uint64_t>(step_ - last_detection_) * cfg_.hop_ms < static_cast<uint64_t>(cfg_.suppression_ms);
  r.is_bark = run_ >= min_steps_ && !suppressed && !in_event_;
  if (r.is_bark) {
    has_last_ = true;
    last_detection_ = step_;
    in_event_ = cfg_.enable_hysteresis;
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
