// AudioProcessor against barkbook.features.logmel (golden data in frontend_golden.h, written by
// nbs/22_firmware.ipynb): one-shot and streamed frames, dB within 0.01 dB, int8 identical wherever the Python value
// is more than 0.01 dB from a rounding boundary. Build and run: make -C firmware test
#include <math.h>
#include <string.h>

#include "audio_processor.h"
#include "frontend_golden.h"
#include "unit_test.h"

namespace {
constexpr int kMels = AudioProcessor::kNumMels;
float g_db[golden::kFrames * kMels];
int8_t g_q[golden::kFrames * kMels];

// Distance in dB from the rounding boundary of floor((db - clamp_min)/scale + 0.5).
float boundary_distance_db(float db) {
  const float v = (db - fe::kClampMinDb) / fe::kInputScale + 0.5f;
  const float frac = v - floorf(v);
  return (frac < 0.5f ? frac : 1.0f - frac) * fe::kInputScale;
}

void check_frames(const float* db, const int8_t* q, const char* how) {
  float worst = 0.0f;
  int exact = 0;
  for (int i = 0; i < golden::kFrames * kMels; ++i) {
    const float d = fabsf(db[i] - golden::kDb[i]);
    if (d > worst) worst = d;
    if (q[i] == golden::kInt8[i]) ++exact;
    else CHECK(boundary_distance_db(golden::kDb[i]) < 0.01f, "%s: int8 %d != %d at %d (dB %.4f)", how, q[i], golden::kInt8[i], i, golden::kDb[i]);
  }
  CHECK(worst <= 0.01f, "%s: largest dB difference %.5f", how, worst);
  printf("%s: %d frames, largest |C++ - Python| %.5f dB, int8 identical %d/%d\n", how, golden::kFrames, worst, exact,
         golden::kFrames * kMels);
}
}  // namespace

int main() {
  const size_t n = AudioProcessor::compute(golden::kInput, golden::kSamples, g_db, g_q, golden::kFrames);
  CHECK(n == static_cast<size_t>(golden::kFrames), "one-shot frames %zu, expected %d", n, golden::kFrames);
  check_frames(g_db, g_q, "one-shot");

  // Streamed in uneven chunks: the same frames, and the rolling window ends with the newest frame.
  static AudioProcessor ap;
  static float db[golden::kFrames * kMels];
  static int8_t q[golden::kFrames * kMels];
  size_t frames = 0;
  for (size_t pos = 0, k = 1; pos < static_cast<size_t>(golden::kSamples); k = k * 7 % 997 + 1) {
    const size_t take = k < golden::kSamples - pos ? k : golden::kSamples - pos;
    for (size_t off = 0; off < take;) {
      bool done = false;
      off += ap.feed(golden::kInput + pos + off, take - off, &done);
      if (!done) continue;
      memcpy(db + frames * kMels, ap.last_frame_db(), sizeof(float) * kMels);
      memcpy(q + frames * kMels, ap.last_frame_q(), kMels);
      ++frames;
    }
    pos += take;
  }
  CHECK(frames == static_cast<size_t>(golden::kFrames), "streamed frames %zu", frames);
  CHECK(memcmp(db, g_db, sizeof(db)) == 0, "streamed dB differ from one-shot");
  CHECK(memcmp(q, g_q, sizeof(q)) == 0, "streamed int8 differ from one-shot");
  CHECK(AudioProcessor::quantize(fe::kClampMinDb) == -128 && AudioProcessor::quantize(fe::kClampMaxDb) == 127,
        "clamp range maps to [-128, 127]");
  return unit_test_result("audio_processor_test");
}
