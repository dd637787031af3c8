// Bark post-processing: peak hold, moving average, threshold, k-of-n vote, minimum duration, suppression,
// hysteresis.
// The C++ twin of barkbook.detector.postprocess (the host tests prove them bit-identical).
// Portable C++17: only <stdint.h>/<stddef.h>, no heap.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "model_settings.h"  // det:: defaults and labels (generated, lib/neural_network/)

// Settings of the detector; the defaults come from the generated model_settings.h (barkbook.detector.DetectorConfig).
struct BarkDetectorConfig {
  float confidence_threshold = det::kConfidenceThreshold;  // averaged bark score needed (>=)
  uint32_t min_bark_duration_ms = det::kMinBarkDurationMs;  // consecutive above-threshold time for a detection
  bool enable_temporal_filter = det::kEnableTemporalFilter; // moving average of the bark score
  uint32_t average_window = det::kAverageWindow;            // steps in the moving average (1..kMaxAverageWindow)
  uint32_t suppression_ms = det::kSuppressionMs;            // no new detection this long after one
  uint32_t hop_ms = det::kHopMs;                            // time between model runs (multiple of the frame hop)
  int bark_class = det::kBarkClass;                         // index of the bark class in the model's outputs
  uint32_t peak_window = det::kPeakWindow;    // peak hold: max of the raw score over this many steps (1: off)
  uint32_t vote_k = det::kVoteK;              // k of n: active when >= vote_k of the last vote_n steps are above
  uint32_t vote_n = det::kVoteN;              // steps in the vote (1..kMaxAverageWindow)
  bool enable_hysteresis = det::kEnableHysteresis;  // no detection inside an event (until score < off_threshold)
  float off_threshold = det::kOffThreshold;   // the event's end (<= confidence_threshold with hysteresis)
};

// One inference step's outcome (or, from BarkDetector::process, the outcome of the steps run in that call).
struct DetectionResult {
  bool is_bark = false;        // a detection fired
  float confidence = 0.0f;     // is_bark: averaged bark score; otherwise the top raw score
  int detected_class = -1;     // is_bark: bark_class; otherwise the top-scoring class (-1: no inference yet)
  uint32_t timestamp_ms = 0;   // audio time of the step's window start (step * hop_ms)
  uint32_t step = 0;           // inference step index since initialize()/reset()
  float bark_score = 0.0f;     // averaged bark score compared with the threshold
  uint16_t inferences = 0;     // model runs this result covers (0: no new inference)
};

// Label of a class index from model_settings.h ("none" for -1, "unknown" when out of range).
const char* bark_class_to_string(int detected_class);

class BarkPostProcessor {
 public:
  // Validate and apply cfg for a model with num_classes outputs. Returns false (and keeps nothing) if invalid.
  bool configure(const BarkDetectorConfig& cfg, int num_classes);
  // Forget history (step counter, peak hold, average, vote, run, suppression, event).
  void reset();
  // Post-process one step's scores[num_classes].
  DetectionResult step(const float* scores);
  const BarkDetectorConfig& config() const { return cfg_; }
  // Consecutive above-threshold steps needed: max(1, ceil(min_bark_duration_ms / hop_ms)).
  uint32_t min_steps() const { return min_steps_; }
  // Inside an event (hysteresis): since the last detection the bark score has stayed >= off_threshold.
  bool in_event() const { return in_event_; }

 private:
  BarkDetectorConfig cfg_;
  int num_classes_ = 0;
  uint32_t min_steps_ = 1;
  float history_[det::kMaxAverageWindow] = {};  // last peak-held bark scores, circular
  uint32_t hist_len_ = 0;
  uint32_t hist_head_ = 0;
  float raw_[det::kMaxAverageWindow] = {};      // last raw bark scores (peak hold), circular
  uint32_t raw_len_ = 0;
  uint32_t raw_head_ = 0;
  uint8_t votes_[det::kMaxAverageWindow] = {};  // last above/below decisions since the vote was cleared, circular
  uint32_t vote_len_ = 0;
  uint32_t vote_head_ = 0;
  bool in_event_ = false;
  uint32_t step_ = 0;
  uint32_t run_ = 0;
  bool has_last_ = false;
  uint32_t last_detection_ = 0;
};
