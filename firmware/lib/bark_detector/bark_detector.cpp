#include "bark_detector.h"

const char* bark_status_to_string(BarkStatus s) {
  switch (s) {
    case BarkStatus::kOk: return "ok";
    case BarkStatus::kBadConfig: return "bad config";
    case BarkStatus::kModelInitFailed: return "model init failed";
    case BarkStatus::kModelShapeMismatch: return "model shape mismatch";
    case BarkStatus::kNotInitialized: return "not initialized";
    case BarkStatus::kInferenceFailed: return "inference failed";
  }
  return "unknown";
}

bool BarkDetector::initialize(const BarkDetectorConfig& config, ScoreModel& model) {
  model_ = nullptr;
  // hop_ms must be a whole number of feature frames.
  const uint64_t num = static_cast<uint64_t>(config.hop_ms) * fe::kSampleRate;
  const uint64_t den = 1000ull * fe::kHopLength;
  if (config.hop_ms == 0 || num % den != 0) {
    status_ = BarkStatus::kBadConfig;
    return false;
  }
  if (model.input_size() != static_cast<size_t>(AudioProcessor::kWindowSize) ||
      model.num_classes() != det::kNumClasses) {
    status_ = BarkStatus::kModelShapeMismatch;
    return false;
  }
  if (!post_.configure(config, model.num_classes())) {
    status_ = BarkStatus::kBadConfig;
    return false;
  }
  hop_frames_ = static_cast<uint32_t>(num / den);
  model_ = &model;
  stats_ = BarkDetectorStats();
  total_step_us_ = max_step_us_ = total_frame_us_ = 0;
  reset();
  status_ = BarkStatus::kOk;
  return true;
}

void BarkDetector::reset() {
  fe_.reset();
  post_.reset();
  step_offset_ = 0;
  last_ = DetectionResult();
}

bool BarkDetector::set_config(const BarkDetectorConfig& config) {
  if (model_ == nullptr || config.hop_ms != post_.config().hop_ms) {
    status_ = model_ == nullptr ? BarkStatus::kNotInitialized : BarkStatus::kBadConfig;
    return false;
  }
  const uint32_t steps = last_.detected_class == -1 ? 0 : last_.step + 1;  // steps run since initialize()/reset()
  if (!post_.configure(config, model_->num_classes())) {
    status_ = BarkStatus::kBadConfig;
    return false;
  }
  step_offset_ = steps;
  return true;
}

DetectionResult BarkDetector::run_step() {
  const uint64_t t0 = now();
  fe_.copy_window(window_);
  const int err = model_->predict(window_, AudioProcessor::kWindowSize, scores_, det::kNumClasses);
  if (err != 0) {
    ++stats_.model_errors;
    status_ = BarkStatus::kInferenceFailed;
    DetectionResult none = last_;
    none.is_bark = false;
    none.inferences = 0;
    return none;
  }
  DetectionResult r = post_.step(scores_);
  if (step_offset_) {  // after set_config(): numbering and time continue from the steps before it
    r.step += step_offset_;
    r.timestamp_ms = static_cast<uint32_t>(static_cast<uint64_t>(r.step) * post_.config().hop_ms);
  }
  const uint64_t dt = now() - t0;
  ++stats_.inferences;
  if (r.is_bark) ++stats_.detections;
  total_step_us_ += dt;
  if (dt > max_step_us_) max_step_us_ = dt;
  if (step_cb_) step_cb_(r, step_user_);
  return r;
}

DetectionResult BarkDetector::process(const int16_t* samples, size_t n) {
  DetectionResult out = last_;
  out.is_bark = false;
  out.inferences = 0;
  if (model_ == nullptr) {
    status_ = BarkStatus::kNotInitialized;
    return out;
  }
  uint16_t runs = 0;
  bool fired = false;
  while (n > 0) {
    bool frame_done = false;
    const uint64_t t0 = now();
    const size_t used = fe_.feed(samples, n, &frame_done);
    samples += used;
    n -= used;
    if (!frame_done) continue;
    total_frame_us_ += now() - t0;
    const uint32_t frames = fe_.frames();
    if (frames < static_cast<uint32_t>(AudioProcessor::kNumFrames) ||
        (frames - AudioProcessor::kNumFrames) % hop_frames_ != 0)
      continue;
    DetectionResult r = run_step();
    if (r.inferences == 0) continue;  // model error: counted, no step
    ++runs;
    if (!fired) out = r;
    fired = fired || r.is_bark;
    last_ = r;
  }
  out.inferences = runs;
  return out;
}

BarkDetectorStats BarkDetector::get_stats() const {
  BarkDetectorStats s = stats_;
  s.frames = fe_.frames();
  s.wide_frames = fe_.wide_frames();
  if (s.inferences) s.avg_latency_ms = static_cast<float>(total_step_us_) / 1000.0f / static_cast<float>(s.inferences);
  s.max_latency_ms = static_cast<float>(max_step_us_) / 1000.0f;
  if (s.frames) s.avg_frame_us = static_cast<float>(total_frame_us_) / static_cast<float>(s.frames);
  return s;
}
