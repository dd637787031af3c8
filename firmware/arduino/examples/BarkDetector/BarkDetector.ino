// barkbook BarkDetector: an ESP32 dev board with an INMP441 I2S microphone prints every inference step (every
// 240 ms) and every bark detection on Serial at 115200 baud, and lights the on-board LED for half a second on a
// detection. Board: ESP32 Dev Module, arduino-esp32 core >= 3.0 (it brings TensorFlow Lite Micro and ESP-IDF 5).
//
// Wiring (INMP441 -> ESP32 DevKitC; pins in microphone.h):
//   VDD -> 3V3, GND -> GND, L/R -> GND (left slot), SCK -> GPIO 26, WS -> GPIO 25, SD -> GPIO 33
#include <barkbook.h>

#include "microphone.h"

#ifndef LED_PIN
#define LED_PIN 2  // on-board LED of an ESP32 DevKitC
#endif

static BarkDetector detector;        // every buffer is inside: no heap
static int16_t samples[320];         // 20 ms at 16 kHz: one front-end hop per read
static bool ready = false;
static unsigned long led_off_ms = 0;

// Called by the detector after every inference step (one 1 s window every hop_ms).
static void print_step(const DetectionResult& r, void*) {
  Serial.printf("t=%7.2fs class=%-9s conf=%.2f bark=%.2f\n", r.timestamp_ms / 1000.0,
                bark_class_to_string(r.detected_class), r.confidence, r.bark_score);
}

void setup() {
  Serial.begin(115200);
  pinMode(LED_PIN, OUTPUT);
  digitalWrite(LED_PIN, LOW);
  Serial.printf("barkbook bark detector: model %.12s, front-end %s\n", BARKBOOK_MODEL_SHA1, BARKBOOK_FRONTEND_HASH);
  BarkDetectorConfig config;  // the run's operating point, from model_settings.h
  if (!detector.initialize(config)) {
    Serial.printf("detector failed: %s (model: %s)\n", bark_status_to_string(detector.last_error()),
                  bark_model_status_string());
    return;
  }
  if (!mic_begin()) {
    Serial.printf("microphone failed: check the I2S wiring (microphone.h)\n");
    return;
  }
  detector.set_step_callback(print_step, nullptr);
  Serial.printf("ready: threshold %.2f, min duration %u ms, average %u steps, suppression %u ms, hop %u ms\n",
                config.confidence_threshold, (unsigned)config.min_bark_duration_ms, (unsigned)config.average_window,
                (unsigned)config.suppression_ms, (unsigned)config.hop_ms);
  ready = true;
}

void loop() {
  if (!ready) {
    delay(1000);
    return;
  }
  const size_t n = mic_read(samples, sizeof(samples) / sizeof(samples[0]));
  if (n == 0) return;
  const DetectionResult r = detector.process(samples, n);
  if (r.is_bark) {
    Serial.printf("BARK DETECTED t=%.2fs confidence %.2f\n", r.timestamp_ms / 1000.0, r.confidence);
    digitalWrite(LED_PIN, HIGH);
    led_off_ms = millis() + 500;
  }
  if (led_off_ms != 0 && millis() >= led_off_ms) {
    digitalWrite(LED_PIN, LOW);
    led_off_ms = 0;
  }
}
