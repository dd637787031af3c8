// barkbook bark detector for an ESP32 dev board + INMP441 I2S microphone.
//
// Core 0: the capture task reads 20 ms blocks of 32-bit I2S words, converts them to int16 with the documented
//         shift/gain (i2s_to_int16, BARKBOOK_MIC_GAIN_BITS) and pushes them into a lock-free ring (0.5 s).
// Core 1: app_main drains the ring into BarkDetector::process(). The detector computes one log-mel frame per
//         20 ms hop and runs the model every hop_ms (240 ms) on the last 49 frames (~1 s), then post-processes.
// Serial (115200 baud): one line per inference step, "BARK" lines on detections, stats every 10 s.
// LED: on for 500 ms after each detection. Calibration mode (hold BOOT at reset, or the esp32dev-calibrate env):
// prints the input level in dBFS every 250 ms instead of detecting, to choose BARKBOOK_MIC_GAIN_BITS.
// Uses only the bark_detector API, the portable audio_input.h helpers and the board layer (board.h).
#include <stdio.h>

#include "audio_input.h"
#include "bark_detector.h"
#include "board.h"

#ifndef BARKBOOK_MIC_GAIN_BITS
#define BARKBOOK_MIC_GAIN_BITS 2  // +12 dB over the INMP441's 24-bit full scale (see README: calibration)
#endif
#ifndef BARKBOOK_CALIBRATION
#define BARKBOOK_CALIBRATION 0
#endif
#ifndef BARKBOOK_PRINT_STEPS
#define BARKBOOK_PRINT_STEPS 1    // one serial line per inference step
#endif

namespace {

constexpr size_t kBlock = 320;         // samples per I2S read = one feature hop (20 ms)
constexpr size_t kCalibBlock = 4000;   // 250 ms level window in calibration mode
SampleRing<8192> g_ring;               // 512 ms between capture and detection
BarkDetector g_detector;               // all detector buffers are inside: no heap
int32_t g_raw[kBlock];
int16_t g_capture[kBlock];
int16_t g_work[1024];
int16_t g_calib[kCalibBlock];

void capture_task(void*) {
  for (;;) {
    const size_t n = board_read_mic(g_raw, kBlock);
    i2s_to_int16(g_raw, g_capture, n, BARKBOOK_MIC_GAIN_BITS);
    g_ring.write(g_capture, n);  // if the detector falls behind, samples are dropped and counted
  }
}

void calibration_loop() {
  printf("calibration mode: gain %d bits (+%.1f dB). A bark at 1-3 m should peak around -20..-6 dBFS;\n"
         "raise BARKBOOK_MIC_GAIN_BITS by 1 per 6 dB if it reads lower, lower it if the peak hits 0 dBFS.\n",
         BARKBOOK_MIC_GAIN_BITS, 6.02 * BARKBOOK_MIC_GAIN_BITS);
  size_t fill = 0;
  for (;;) {
    const size_t n = g_ring.read(g_calib + fill, kCalibBlock - fill);
    fill += n;
    if (fill < kCalibBlock) {
      if (n == 0) board_delay_ms(5);
      continue;
    }
    printf("level rms %7.1f dBFS  peak %7.1f dBFS  dropped %u\n", rms_dbfs(g_calib, fill), peak_dbfs(g_calib, fill),
           static_cast<unsigned>(g_ring.dropped()));
    fill = 0;
  }
}

void print_stats() {
  const BarkDetectorStats s = g_detector.get_stats();
  printf("stats: inferences %u detections %u latency avg %.1f ms max %.1f ms frame %.0f us wide %u errors %u "
         "dropped %u\n",
         static_cast<unsigned>(s.inferences), static_cast<unsigned>(s.detections), s.avg_latency_ms, s.max_latency_ms,
         s.avg_frame_us, static_cast<unsigned>(s.wide_frames), static_cast<unsigned>(s.model_errors),
         static_cast<unsigned>(g_ring.dropped()));
}

}  // namespace

extern "C" void app_main(void) {
  printf("\nbarkbook bark detector (front-end %s)\n", BARKBOOK_FRONTEND_HASH);
  if (!board_init()) {
    printf("I2S microphone init failed: check wiring (README)\n");
    return;
  }
  const bool calibrate = BARKBOOK_CALIBRATION || board_button_pressed();
  if (!board_start_task(capture_task, nullptr, "capture", 4096, 10, 0)) {
    printf("cannot start the capture task\n");
    return;
  }
  if (calibrate) calibration_loop();

  BarkDetectorConfig config;  // defaults: model_settings.h (the operating point chosen by 04_stream)
  g_detector.set_clock(board_micros);
  if (!g_detector.initialize(config)) {
    printf("detector init failed: %s", bark_status_to_string(g_detector.last_error()));
    if (g_detector.last_error() == BarkStatus::kModelInitFailed) printf(" (%s)", bark_model_status_string());
    printf("\n");
    for (bool on = true;; on = !on) {  // fast blink: broken
      board_led(on);
      board_delay_ms(100);
    }
  }
  printf("ready: threshold %.2f, min duration %u ms, average %u steps, suppression %u ms, hop %u ms\n",
         config.confidence_threshold, static_cast<unsigned>(config.min_bark_duration_ms),
         static_cast<unsigned>(config.enable_temporal_filter ? config.average_window : 1),
         static_cast<unsigned>(config.suppression_ms), static_cast<unsigned>(config.hop_ms));

  uint64_t led_off_at = 0, next_stats = board_micros() + 10000000ull;
  for (;;) {
    const size_t n = g_ring.read(g_work, sizeof(g_work) / sizeof(g_work[0]));
    if (n == 0) {
      board_delay_ms(5);
    } else {
      const DetectionResult r = g_detector.process(g_work, n);
      if (r.inferences > 0) {
        if (BARKBOOK_PRINT_STEPS)
          printf("t=%7.2fs class=%-10s conf=%.2f bark=%.2f\n", r.timestamp_ms / 1000.0, bark_class_to_string(r.detected_class),
                 r.confidence, r.bark_score);
        if (r.is_bark) {
          printf("BARK DETECTED t=%.2fs confidence %.2f\n", r.timestamp_ms / 1000.0, r.confidence);
          board_led(true);
          led_off_at = board_micros() + 500000ull;
        }
      }
    }
    const uint64_t now = board_micros();
    if (led_off_at && now >= led_off_at) {
      board_led(false);
      led_off_at = 0;
    }
    if (now >= next_stats) {
      print_stats();
      next_stats = now + 10000000ull;
    }
  }
}
