// One inference and one front-end frame on the lx106 core of qemu-system-xtensa, timed with CCOUNT
// (barkbook.firmware.qemu_counts, make bench). Prints "key=value" lines through semihosting.
#include <stddef.h>
#include <stdint.h>

#include "audio_processor.h"
#include "model_settings.h"
#include "neural_network.h"

extern "C" long sim_write(int fd, const void* p, size_t n);
extern "C" uint32_t sim_ccount(void);
extern "C" void _exit(int code);

namespace {
void put(const char* key, uint32_t v) {
  char b[64];
  int n = 0;
  while (*key && n < 40) b[n++] = *key++;
  b[n++] = '=';
  char d[12];
  int m = 0;
  do { d[m++] = static_cast<char>('0' + v % 10u); v /= 10u; } while (v);
  while (m) b[n++] = d[--m];
  b[n++] = '\n';
  sim_write(1, b, static_cast<size_t>(n));
}
uint32_t g_lcg = 12345u;
int16_t next_sample() { g_lcg = g_lcg * 1103515245u + 12345u; return static_cast<int16_t>((g_lcg >> 16) & 0x0fff) - 2048; }
int8_t g_window[model::kInputSize];
int16_t g_frame[AudioProcessor::kFrameSamples];
float g_db[AudioProcessor::kNumMels];
float g_scores[model::kOutputSize];
NeuralNetwork g_nn;
}  // namespace

int main() {
  // Calibration: 2 instructions per iteration. qemu's CCOUNT runs at the core's clock (40 MHz for lx106) while
  // -icount shift=0 makes every instruction 1 ns, so CCOUNT ticks once per 25 instructions; the caller divides.
  uint32_t n = 100000u;
  const uint32_t c0 = sim_ccount();
  __asm__ __volatile__("1: addi %0, %0, -1\n  bnez %0, 1b" : "+a"(n));
  const uint32_t c1 = sim_ccount();
  put("calibration_instructions", 200000u);
  put("calibration_ccount", c1 - c0);
  for (int i = 0; i < AudioProcessor::kFrameSamples; ++i) g_frame[i] = next_sample();   // noise at about -30 dBFS
  uint32_t t0 = sim_ccount();
  const bool wide = AudioProcessor::frame_logmel(g_frame, g_db);
  for (int b = 0; b < AudioProcessor::kNumMels; ++b) g_window[b] = AudioProcessor::quantize(g_db[b]);
  uint32_t t1 = sim_ccount();
  put("frontend_frame", t1 - t0);
  put("frontend_frame_wide", wide ? 1u : 0u);
  for (int i = 0; i < AudioProcessor::kFrameSamples; ++i) g_frame[i] = i % 16 < 8 ? 32767 : -32768;   // full-scale square
  t0 = sim_ccount();
  const bool wide2 = AudioProcessor::frame_logmel(g_frame, g_db);
  t1 = sim_ccount();
  put("frontend_frame_square", t1 - t0);
  put("frontend_frame_square_wide", wide2 ? 1u : 0u);
  for (int i = 0; i < model::kInputSize; ++i) g_window[i] = static_cast<int8_t>(next_sample() >> 5);
  t0 = sim_ccount();
  const NNStatus s = g_nn.initialize();
  t1 = sim_ccount();
  put("nn_status", static_cast<uint32_t>(s));
  put("initialize", t1 - t0);
  put("arena_used_bytes", static_cast<uint32_t>(g_nn.arena_used_bytes()));
  for (int k = 0; k < 2; ++k) {  // the second run is the steady state
    t0 = sim_ccount();
    g_nn.predict(g_window, model::kInputSize, g_scores, model::kOutputSize);
    t1 = sim_ccount();
    put(k == 0 ? "inference_first" : "inference", t1 - t0);
  }
  put("done", 1);
  _exit(0);  // picolibc's _start spins after main returns: leave qemu through semihosting
}
