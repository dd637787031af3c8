// Streaming log-mel front-end: the C++ twin of barkbook.features.logmel (see firmware/README.md).
// Portable C++17: only <stdint.h>, <stddef.h>; no heap, no STL, no Arduino/ESP-IDF headers.
//
// Frame k covers samples [k*kHopLength, k*kHopLength + kFftSize): windowed (periodic Hann centred in the frame),
// real FFT, power, sparse mel filterbank, 10*log10 re the full-scale-sine power, clamp, int8 quantisation.
// Like barkbook.features, a frame is computed in float32 and recomputed in double when its band range exceeds
// kWideRangeDb (float32 rounding would otherwise add up to ~0.2 dB in bands 100+ dB below the loudest one).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "model_settings.h"  // fe:: constants (generated, lib/neural_network/)

class AudioProcessor {
 public:
  static constexpr int kFrameSamples = fe::kFftSize;
  static constexpr int kHop = fe::kHopLength;
  static constexpr int kNumMels = fe::kNumMels;
  static constexpr int kNumFrames = fe::kNumFrames;            // frames in one model window
  static constexpr int kWindowSize = kNumFrames * kNumMels;    // int8 elements of one model input

  AudioProcessor() { reset(); }
  // Forget all audio and frames.
  void reset();
  // Consume up to n samples; stops right after a frame completes (then *frame_done = true, and the new frame is
  // last_frame_db()/last_frame_q()). Returns the number of samples consumed (> 0 when n > 0).
  size_t feed(const int16_t* samples, size_t n, bool* frame_done);
  // Frames computed since reset().
  uint32_t frames() const { return frames_; }
  // Frames that needed the double-precision path.
  uint32_t wide_frames() const { return wide_frames_; }
  // Samples still needed before the next frame completes.
  size_t samples_to_next_frame() const { return static_cast<size_t>(kFrameSamples - fill_); }
  const float* last_frame_db() const { return last_db_; }
  const int8_t* last_frame_q() const { return ring_ + ((head_ + kNumFrames - 1) % kNumFrames) * kNumMels; }
  // True once a whole model window (kNumFrames frames) is available.
  bool window_ready() const { return frames_ >= static_cast<uint32_t>(kNumFrames); }
  // Copy the last kNumFrames int8 frames, oldest first, to dst[kWindowSize]. Returns false before window_ready().
  bool copy_window(int8_t* dst) const;

  // One-shot: frames of x (n samples) into db[max_frames*kNumMels] and q (either may be null).
  // Returns the number of frames written: min(max_frames, frames in n samples).
  static size_t compute(const int16_t* x, size_t n, float* db, int8_t* q, size_t max_frames);
  // Frames in n samples (0 if n < kFrameSamples).
  static size_t frames_for(size_t n) { return n < static_cast<size_t>(kFrameSamples) ? 0 : 1 + (n - kFrameSamples) / kHop; }
  // int8 model input of one dB value: floor(db / scale + 0.5) + zero_point, clipped to [-128, 127].
  static int8_t quantize(float db);
  // Log-mel (dB) of one frame of kFrameSamples samples. Returns true if the double path was used.
  static bool frame_logmel(const int16_t* frame, float* db_out);

 private:
  int16_t hist_[kFrameSamples];     // samples of the frame being assembled
  int fill_;                        // valid samples in hist_
  int8_t ring_[kNumFrames * kNumMels];  // last kNumFrames quantised frames, circular
  int head_;                        // ring slot the next frame goes to
  uint32_t frames_;
  uint32_t wide_frames_;
  float last_db_[kNumMels];
};
