// barkbook bark detector for an ESP32 dev board + INMP441 I2S microphone.
//
// Core 0: the capture task reads 20 ms blocks of 32-bit I2S words, converts them to int16 with the documented
//         shift/gain (i2s_to_int16, BARKBOOK_MIC_GAIN_BITS) and pushes them into a lock-free ring (0.5 s).
// Core 1: app_main drains the ring into BarkDetector::process(). The detector computes one log-mel frame per
//         20 ms hop and runs the model every hop_ms (240 ms) on the last 49 frames (~1 s), then post-processes.
// Serial (115200 baud): the protocol of lib/serial_protocol (README "Serial protocol"): HELLO and CFG at start, one
//         STEP line per inference, EVENT lines on detections, STATS every 10 s; commands in (threshold, set, capture,
//         ...) change the detector rule until reboot; captured 1-s windows of events and near-misses go out as CAPD
//         lines (base64) between steps. `barkbook monitor --port PORT` reads and drives it.
// LED: on for 500 ms after each detection. Calibration mode (hold BOOT at reset, or the esp32dev-calibrate env):
// prints the input level in dBFS every 250 ms instead of detecting, to choose BARKBOOK_MIC_GAIN_BITS.
// Uses only the bark_detector API, the portable audio_input.h helpers and the board layer (board.h).
#include <stdio.h>

#include "audio_input.h"
#include "bark_detector.h"
#include "board.h"
#include "../lib/serial_protocol/serial_protocol.h"  // relative: found with the include folders the tests give

#ifndef BARKBOOK_MIC_GAIN_BITS
#define BARKBOOK_MIC_GAIN_BITS 2  // +12 dB over the INMP441's 24-bit full scale (see README: calibration)
#endif
#ifndef BARKBOOK_CALIBRATION
#define BARKBOOK_CALIBRATION 0
#endif
#ifndef BARKBOOK_PRINT_STEPS
#define BARKBOOK_PRINT_STEPS 1    // one STEP line per inference step (at run time: `set steps=0|1`)
#endif

namespace {

constexpr size_t kBlock = 320;         // samples per I2S read = one feature hop (20 ms)
constexpr size_t kCalibBlock = 4000;   // 250 ms level window in calibration mode
SampleRing<8192> g_ring;               // 512 ms between capture and detection
BarkDetector g_detector;               // all detector buffers are inside: no heap
SerialMonitor g_monitor;               // the serial protocol: 1 s of audio history + the capture window (64 KB)
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

void serial_write(const char* data, size_t n, void*) { board_serial_write(data, n); }

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
  g_monitor.set_print_steps(BARKBOOK_PRINT_STEPS);
  g_monitor.begin(g_detector, serial_write, nullptr, board_serial_baud());  // HELLO + CFG lines

  uint64_t led_off_at = 0, next_stats = board_micros() + 10000000ull;
  char input[64];
  for (;;) {
    const size_t got = board_serial_read(input, sizeof(input));  // commands: answered at once (OK/ERR + CFG)
    if (got > 0) g_monitor.receive(input, got);
    const size_t n = g_ring.read(g_work, sizeof(g_work) / sizeof(g_work[0]));
    if (n == 0) {
      board_delay_ms(5);
    } else if (g_monitor.process(g_work, n) > 0) {  // STEP/EVENT lines, captures
      board_led(true);
      led_off_at = board_micros() + 500000ull;
    }
    const uint64_t now = board_micros();
    if (led_off_at && now >= led_off_at) {
      board_led(false);
      led_off_at = 0;
    }
    if (now >= next_stats) {
      g_monitor.print_stats(static_cast<uint32_t>(g_ring.dropped()));
      next_stats = now + 10000000ull;
    }
  }
}
