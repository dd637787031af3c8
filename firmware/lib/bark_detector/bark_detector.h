// BarkDetector: the firmware's API. Streams audio through the log-mel front-end (lib/audio_processor), runs the
// model every hop on the last kNumFrames frames, and post-processes the scores (bark_postprocess.h).
// Portable C++17: no heap (all buffers are members), no Arduino/ESP-IDF headers.
//
//   BarkDetector detector;                      // static storage
//   BarkDetectorConfig config;                  // defaults from model_settings.h
//   config.confidence_threshold = 0.8f;
//   if (!detector.initialize(config)) { ... detector.last_error() ... }
//   DetectionResult r = detector.process(samples, n);   // any n; runs 0..k inferences
//   if (r.is_bark) printf("bark %.2f\n", r.confidence);
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "audio_processor.h"
#include "bark_postprocess.h"
#include "score_model.h"

enum class BarkStatus : int {
  kOk = 0,
  kBadConfig = 1,          // a BarkDetectorConfig value out of range (or hop_ms not a multiple of the frame hop)
  kModelInitFailed = 2,    // the model could not be set up (see NeuralNetwork's status for why)
  kModelShapeMismatch = 3, // the model's input size or class count does not match the front-end / labels
  kNotInitialized = 4,
  kInferenceFailed = 5,    // a predict() call failed (counted in stats; processing goes on)
};
const char* bark_status_to_string(BarkStatus s);
// Device build only (bark_detector_tflm.cpp): why the TFLM model failed to set up (kModelInitFailed).
const char* bark_model_status_string();
// Device build only: arena bytes TFLM used when the model was set up (0 before initialize()).
size_t bark_model_arena_used_bytes();

struct BarkDetectorStats {
  uint32_t inferences = 0;        // model runs
  uint32_t detections = 0;        // is_bark results
  uint32_t frames = 0;            // feature frames computed
  uint32_t wide_frames = 0;       // frames that needed the double-precision path
  uint32_t model_errors = 0;      // failed predict() calls
  float avg_latency_ms = 0.0f;    // mean time of one step (window copy + model + post-processing)
  float max_latency_ms = 0.0f;
  float avg_frame_us = 0.0f;      // mean time of one feature frame
};

class BarkDetector {
 public:
  typedef uint64_t (*ClockFn)();                               // microseconds, monotonic
  typedef void (*StepCallback)(const DetectionResult& r, void* user);

  // Set up with the device model (lib/neural_network; defined in bark_detector_tflm.cpp).
  bool initialize(const BarkDetectorConfig& config);
  // Set up with any ScoreModel (host tests, other back-ends). The model must outlive the detector.
  bool initialize(const BarkDetectorConfig& config, ScoreModel& model);
  // Feed n samples (16 kHz mono int16). Runs every inference step that completes inside them and returns the first
  // detection among them, else the last step's result; inferences == 0 if no step completed.
  DetectionResult process(const int16_t* samples, size_t n);
  // Forget audio, frames and post-processing history (the configuration stays).
  void reset();
  // Change the post-processing rule at run time (threshold, averaging, duration, suppression, ...), validated like
  // initialize(). The audio, the frames and the step numbering go on; the rule's history starts afresh (as after
  // reset()). hop_ms cannot change at run time. Returns false (last_error() kBadConfig) and keeps the old config
  // when `config` is invalid or the detector is not initialized.
  bool set_config(const BarkDetectorConfig& config);
  BarkDetectorStats get_stats() const;
  BarkStatus last_error() const { return status_; }
  bool initialized() const { return model_ != nullptr; }
  const BarkDetectorConfig& config() const { return post_.config(); }
  // Optional: a microsecond clock for latency statistics (none: latencies read 0).
  void set_clock(ClockFn clock) { clock_ = clock; }
  // Optional: called after every inference step with that step's result.
  void set_step_callback(StepCallback cb, void* user) { step_cb_ = cb; step_user_ = user; }
  // The class scores of the last inference step (det::kNumClasses floats).
  const float* last_scores() const { return scores_; }
  // The front-end (read-only), e.g. for its last frame.
  const AudioProcessor& frontend() const { return fe_; }

 private:
  DetectionResult run_step();
  uint64_t now() const { return clock_ ? clock_() : 0; }

  AudioProcessor fe_;
  BarkPostProcessor post_;
  ScoreModel* model_ = nullptr;
  BarkStatus status_ = BarkStatus::kNotInitialized;
  uint32_t hop_frames_ = 0;
  uint32_t step_offset_ = 0;      // steps before the last set_config() (the post-processor counts from there)
  int8_t window_[AudioProcessor::kWindowSize] = {};
  float scores_[det::kNumClasses] = {};
  DetectionResult last_;
  BarkDetectorStats stats_;
  uint64_t total_step_us_ = 0;
  uint64_t max_step_us_ = 0;
  uint64_t total_frame_us_ = 0;
  ClockFn clock_ = nullptr;
  StepCallback step_cb_ = nullptr;
  void* step_user_ = nullptr;
};
