// Host test driver for the portable firmware libraries (built and run by tests/test_firmware.py via
// barkbook.firmware). Reads binary inputs, runs the C++ code, writes binary outputs. Not part of the device build.
//
//   fe <in.i16> <out_db.f32> <out_q.i8>                   one-shot front-end
//   fe_stream <seed> <in.i16> <out_db.f32> <out_q.i8>     streaming front-end, random chunk sizes
//   post <T> <C> <scores.f32> <out.bin> <thr> <min_ms> <filter> <win> <supp_ms> <hop_ms> <bark> [<rules>]
//        <rules> (optional, all five or none; default: the BarkDetectorConfig defaults):
//        <peak_window> <vote_k> <vote_n> <hysteresis 0/1> <off_threshold>; also after detector's and wav's <bark>
//   detector <seed> <in.i16> <T> <C> <scores.f32> <steps.bin> <windows.i8> <calls.bin> <thr> <min_ms> <filter> <win> <supp_ms> <hop_ms> <bark>
//   levels <block> <in.i16> <out.f64>                      rms and peak dBFS per block
//   labels                                                 bark_class_to_string(-2 .. kNumClasses)
//   i2s <gain_bits> <in.i32> <out.i16>                     INMP441 word conversion
//   ring <seed> <in.i16>                                   SampleRing: random write/read sizes, drops counted
// Built with -DBARKBOOK_HOST_TFLM (against TFLite Micro, barkbook.firmware.build_host_app) it also runs the model:
//   arena                                                  arena_used_bytes after NeuralNetwork::initialize()
//   nn <windows.i8> <out.i8>                               raw int8 model outputs of each int8 window
//   wav <seed> <in.wav> <steps.bin> <windows.i8> <thr> <min_ms> <filter> <win> <supp_ms> <hop_ms> <bark>
//        the device path: 16 kHz mono 16-bit WAV -> BarkDetector::initialize(config) (AudioProcessor -> NeuralNetwork
//        -> BarkPostProcessor) fed in random chunk sizes; one record and the model's int8 window per step
// Built with -DCOUNT_ALLOC, global operator new and malloc are counted; the driver prints "allocs_init=N
// allocs_run=N" and the tests require 0 (no heap in initialize() or process()).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audio_input.h"
#include "audio_processor.h"
#include "bark_detector.h"
#include "bark_postprocess.h"
#ifdef BARKBOOK_HOST_TFLM
#include "neural_network.h"
#endif

#ifdef COUNT_ALLOC
#include "count_alloc.h"
static size_t allocs() { return g_allocs; }
#else
static size_t allocs() { return 0; }
#endif

namespace {

// Every buffer the driver allocates (before the code under test runs) is released at exit, so LeakSanitizer
// reports only real leaks.
void* g_owned[64];
int g_n_owned = 0;
void* xalloc(size_t bytes) {
  void* p = malloc(bytes ? bytes : 1);
  if (!p || g_n_owned == 64) { fprintf(stderr, "out of memory\n"); exit(2); }
  g_owned[g_n_owned++] = p;
  return p;
}
void free_all() {
  while (g_n_owned > 0) free(g_owned[--g_n_owned]);
}

struct Buf {
  void* data = nullptr;
  size_t bytes = 0;
};

Buf read_file(const char* path) {
  Buf b;
  FILE* f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(2); }
  fseek(f, 0, SEEK_END);
  b.bytes = static_cast<size_t>(ftell(f));
  fseek(f, 0, SEEK_SET);
  b.data = xalloc(b.bytes);
  if (b.bytes && fread(b.data, 1, b.bytes, f) != b.bytes) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
  fclose(f);
  return b;
}

void write_file(const char* path, const void* data, size_t bytes) {
  FILE* f = fopen(path, "wb");
  if (!f || (bytes && fwrite(data, 1, bytes, f) != bytes)) { fprintf(stderr, "cannot write %s\n", path); exit(2); }
  fclose(f);
}

// Deterministic chunk sizes (xorshift32).
struct Rng {
  uint32_t s;
  explicit Rng(uint32_t seed) : s(seed ? seed : 1) {}
  uint32_t next() { s ^= s << 13; s ^= s >> 17; s ^= s << 5; return s; }
  size_t chunk(size_t max) { return 1 + next() % max; }
};

uint64_t micros() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000ull + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

// The config arguments: 7 (thr .. bark) or 12 (+ peak_window vote_k vote_n hysteresis off_threshold).
BarkDetectorConfig parse_config(char** a, int n) {
  BarkDetectorConfig c;
  c.confidence_threshold = strtof(a[0], nullptr);
  c.min_bark_duration_ms = static_cast<uint32_t>(strtoul(a[1], nullptr, 10));
  c.enable_temporal_filter = atoi(a[2]) != 0;
  c.average_window = static_cast<uint32_t>(strtoul(a[3], nullptr, 10));
  c.suppression_ms = static_cast<uint32_t>(strtoul(a[4], nullptr, 10));
  c.hop_ms = static_cast<uint32_t>(strtoul(a[5], nullptr, 10));
  c.bark_class = atoi(a[6]);
  if (n == 12) {
    c.peak_window = static_cast<uint32_t>(strtoul(a[7], nullptr, 10));
    c.vote_k = static_cast<uint32_t>(strtoul(a[8], nullptr, 10));
    c.vote_n = static_cast<uint32_t>(strtoul(a[9], nullptr, 10));
    c.enable_hysteresis = atoi(a[10]) != 0;
    c.off_threshold = strtof(a[11], nullptr);
  }
  return c;
}

// Per-step record written by `post` and `detector` (20 bytes, little-endian).
struct StepRecord {
  int32_t step;
  int32_t is_bark;
  int32_t detected_class;
  float confidence;
  float bark_score;
};

StepRecord to_record(const DetectionResult& r) {
  return StepRecord{static_cast<int32_t>(r.step), r.is_bark ? 1 : 0, r.detected_class, r.confidence, r.bark_score};
}

// A ScoreModel that replays a score table and records every input window it receives: the host stands in for
// the TFLM model (which needs the ESP32 build) while everything around it runs for real.
class ReplayModel : public ScoreModel {
 public:
  ReplayModel(const float* scores, size_t steps, int classes, int8_t* windows)
      : scores_(scores), steps_(steps), classes_(classes), windows_(windows) {}
  int num_classes() const override { return classes_; }
  size_t input_size() const override { return AudioProcessor::kWindowSize; }
  int predict(const int8_t* input, size_t n, float* scores, size_t n_scores) override {
    if (n != input_size() || n_scores != static_cast<size_t>(classes_) || calls_ >= steps_) return 1;
    memcpy(windows_ + calls_ * n, input, n);
    memcpy(scores, scores_ + calls_ * classes_, sizeof(float) * classes_);
    ++calls_;
    return 0;
  }
  size_t calls() const { return calls_; }

 private:
  const float* scores_;
  size_t steps_;
  int classes_;
  int8_t* windows_;
  size_t calls_ = 0;
};

struct StepLog {
  StepRecord* rec;
  size_t n;
};
void log_step(const DetectionResult& r, void* user) {
  StepLog* log = static_cast<StepLog*>(user);
  log->rec[log->n++] = to_record(r);
}

int cmd_fe(int argc, char** argv) {
  if (argc != 5) return 64;
  Buf in = read_file(argv[2]);
  const size_t n = in.bytes / 2;
  const size_t nf = AudioProcessor::frames_for(n);
  float* db = static_cast<float*>(xalloc(nf * AudioProcessor::kNumMels * sizeof(float) + 1));
  int8_t* q = static_cast<int8_t*>(xalloc(nf * AudioProcessor::kNumMels + 1));
  const size_t a0 = allocs();
  const uint64_t t0 = micros();
  const size_t got = AudioProcessor::compute(static_cast<const int16_t*>(in.data), n, db, q, nf);
  const uint64_t dt = micros() - t0;
  const size_t a1 = allocs();
  write_file(argv[3], db, got * AudioProcessor::kNumMels * sizeof(float));
  write_file(argv[4], q, got * AudioProcessor::kNumMels);
  printf("frames=%zu us=%llu allocs_run=%zu\n", got, static_cast<unsigned long long>(dt), a1 - a0);
  return 0;
}

int cmd_fe_stream(int argc, char** argv) {
  if (argc != 6) return 64;
  Rng rng(static_cast<uint32_t>(strtoul(argv[2], nullptr, 10)));
  Buf in = read_file(argv[3]);
  const size_t n = in.bytes / 2;
  const size_t nf = AudioProcessor::frames_for(n);
  float* db = static_cast<float*>(xalloc(nf * AudioProcessor::kNumMels * sizeof(float) + 1));
  int8_t* q = static_cast<int8_t*>(xalloc(nf * AudioProcessor::kNumMels + 1));
  int8_t* win = static_cast<int8_t*>(xalloc(AudioProcessor::kWindowSize));
  static AudioProcessor ap;
  const int16_t* x = static_cast<const int16_t*>(in.data);
  size_t pos = 0, frames = 0, window_errors = 0;
  const size_t a0 = allocs();
  while (pos < n) {
    size_t k = rng.chunk(1200);
    if (k > n - pos) k = n - pos;
    size_t off = 0;
    while (off < k) {
      bool done = false;
      off += ap.feed(x + pos + off, k - off, &done);
      if (!done) continue;
      memcpy(db + frames * AudioProcessor::kNumMels, ap.last_frame_db(), sizeof(float) * AudioProcessor::kNumMels);
      memcpy(q + frames * AudioProcessor::kNumMels, ap.last_frame_q(), AudioProcessor::kNumMels);
      ++frames;
      // The rolling window must always equal the last kNumFrames frames.
      if (ap.copy_window(win) &&
          memcmp(win, q + (frames - AudioProcessor::kNumFrames) * AudioProcessor::kNumMels, AudioProcessor::kWindowSize) != 0)
        ++window_errors;
    }
    pos += k;
  }
  const size_t a1 = allocs();
  write_file(argv[4], db, frames * AudioProcessor::kNumMels * sizeof(float));
  write_file(argv[5], q, frames * AudioProcessor::kNumMels);
  printf("frames=%zu wide=%u window_errors=%zu allocs_run=%zu\n", frames, ap.wide_frames(), window_errors, a1 - a0);
  return 0;
}

int cmd_post(int argc, char** argv) {
  if (argc != 13 && argc != 18) return 64;
  const size_t T = strtoul(argv[2], nullptr, 10);
  const int C = atoi(argv[3]);
  Buf sc = read_file(argv[4]);
  if (sc.bytes != T * C * sizeof(float)) { fprintf(stderr, "scores: expected %zu bytes\n", T * C * sizeof(float)); return 2; }
  const BarkDetectorConfig cfg = parse_config(argv + 6, argc - 6);
  static BarkPostProcessor post;
  if (!post.configure(cfg, C)) { printf("config=invalid\n"); return 3; }
  StepRecord* rec = static_cast<StepRecord*>(xalloc(sizeof(StepRecord) * (T + 1)));
  const float* s = static_cast<const float*>(sc.data);
  const size_t a0 = allocs();
  for (size_t i = 0; i < T; ++i) rec[i] = to_record(post.step(s + i * C));
  const size_t a1 = allocs();
  write_file(argv[5], rec, sizeof(StepRecord) * T);
  printf("steps=%zu min_steps=%u allocs_run=%zu\n", T, post.min_steps(), a1 - a0);
  return 0;
}

int cmd_detector(int argc, char** argv) {
  if (argc != 17 && argc != 22) return 64;
  Rng rng(static_cast<uint32_t>(strtoul(argv[2], nullptr, 10)));
  Buf in = read_file(argv[3]);
  const size_t T = strtoul(argv[4], nullptr, 10);
  const int C = atoi(argv[5]);
  Buf sc = read_file(argv[6]);
  if (sc.bytes != T * C * sizeof(float)) { fprintf(stderr, "scores: expected %zu bytes\n", T * C * sizeof(float)); return 2; }
  const BarkDetectorConfig cfg = parse_config(argv + 10, argc - 10);
  int8_t* windows = static_cast<int8_t*>(xalloc(T * AudioProcessor::kWindowSize + 1));
  StepLog log{static_cast<StepRecord*>(xalloc(sizeof(StepRecord) * (T + 1))), 0};
  StepRecord* calls = static_cast<StepRecord*>(xalloc(sizeof(StepRecord) * (in.bytes / 2 + 1)));
  size_t n_calls = 0;
  static ReplayModel model(static_cast<const float*>(sc.data), T, C, windows);
  static BarkDetector detector;
  detector.set_clock(micros);
  detector.set_step_callback(log_step, &log);
  const size_t a0 = allocs();
  if (!detector.initialize(cfg, model)) {
    printf("initialize=false status=%s\n", bark_status_to_string(detector.last_error()));
    return 3;
  }
  const size_t a1 = allocs();
  const int16_t* x = static_cast<const int16_t*>(in.data);
  const size_t n = in.bytes / 2;
  size_t pos = 0;
  while (pos < n) {
    size_t k = rng.chunk(6000);
    if (k > n - pos) k = n - pos;
    const DetectionResult r = detector.process(x + pos, k);
    if (r.inferences) {  // one record per call that ran the model: the call's reported result
      StepRecord c = to_record(r);
      c.step = static_cast<int32_t>(r.step) | (static_cast<int32_t>(r.inferences) << 24);
      calls[n_calls++] = c;
    }
    pos += k;
  }
  const size_t a2 = allocs();
  const BarkDetectorStats st = detector.get_stats();
  write_file(argv[7], log.rec, sizeof(StepRecord) * log.n);
  write_file(argv[8], windows, model.calls() * AudioProcessor::kWindowSize);
  write_file(argv[9], calls, sizeof(StepRecord) * n_calls);
  printf("steps=%zu inferences=%u detections=%u frames=%u wide_frames=%u model_errors=%u avg_latency_ms=%.4f "
         "max_latency_ms=%.4f avg_frame_us=%.2f allocs_init=%zu allocs_run=%zu\n",
         log.n, st.inferences, st.detections, st.frames, st.wide_frames, st.model_errors, st.avg_latency_ms,
         st.max_latency_ms, st.avg_frame_us, a1 - a0, a2 - a1);
  return 0;
}

int cmd_labels(int argc, char**) {
  if (argc != 2) return 64;
  for (int c = -2; c <= det::kNumClasses; ++c) printf("%d=%s\n", c, bark_class_to_string(c));
  return 0;
}

int cmd_levels(int argc, char** argv) {
  if (argc != 5) return 64;
  const size_t block = strtoul(argv[2], nullptr, 10);
  Buf in = read_file(argv[3]);
  const size_t n = in.bytes / 2, nb = n / block;
  double* out = static_cast<double*>(xalloc(sizeof(double) * 2 * (nb + 1)));
  const int16_t* x = static_cast<const int16_t*>(in.data);
  for (size_t b = 0; b < nb; ++b) {
    out[2 * b] = rms_dbfs(x + b * block, block);
    out[2 * b + 1] = peak_dbfs(x + b * block, block);
  }
  write_file(argv[4], out, sizeof(double) * 2 * nb);
  return 0;
}

int cmd_i2s(int argc, char** argv) {
  if (argc != 5) return 64;
  const int gain = atoi(argv[2]);
  Buf in = read_file(argv[3]);
  const size_t n = in.bytes / 4;
  int16_t* out = static_cast<int16_t*>(xalloc(2 * n + 1));
  i2s_to_int16(static_cast<const int32_t*>(in.data), out, n, gain);
  write_file(argv[4], out, 2 * n);
  return 0;
}

int cmd_ring(int argc, char** argv) {
  if (argc != 4) return 64;
  Rng rng(static_cast<uint32_t>(strtoul(argv[2], nullptr, 10)));
  Buf in = read_file(argv[3]);
  const size_t n = in.bytes / 2;
  int16_t* got = static_cast<int16_t*>(xalloc(2 * n + 2));
  int16_t* want = static_cast<int16_t*>(xalloc(2 * n + 2));  // the samples the ring accepted, in order
  static SampleRing<1024> ring;
  const int16_t* x = static_cast<const int16_t*>(in.data);
  size_t wpos = 0, n_want = 0, n_got = 0, dropped = 0;
  while (wpos < n || ring.available() > 0) {
    if (wpos < n) {
      size_t k = rng.chunk(700);
      if (k > n - wpos) k = n - wpos;
      const size_t space = ring.capacity() - ring.available();
      const size_t stored = ring.write(x + wpos, k);
      if (stored != (k < space ? k : space)) return 4;
      memcpy(want + n_want, x + wpos, 2 * stored);
      n_want += stored;
      dropped += k - stored;
      wpos += k;
    }
    n_got += ring.read(got + n_got, rng.chunk(500));
  }
  const bool same = n_got == n_want && memcmp(got, want, 2 * n_got) == 0;
  printf("read=%zu dropped=%zu counted_dropped=%zu same=%d\n", n_got, dropped, ring.dropped(), same ? 1 : 0);
  return same && ring.dropped() == dropped ? 0 : 5;
}

#ifdef BARKBOOK_HOST_TFLM
// 16 kHz mono 16-bit PCM WAV -> samples (a clear error naming the file otherwise).
const int16_t* read_wav(const char* path, size_t* n) {
  Buf b = read_file(path);
  const uint8_t* p = static_cast<const uint8_t*>(b.data);
  auto u32 = [](const uint8_t* q) { return uint32_t(q[0]) | uint32_t(q[1]) << 8 | uint32_t(q[2]) << 16 | uint32_t(q[3]) << 24; };
  auto u16 = [](const uint8_t* q) { return uint32_t(q[0]) | uint32_t(q[1]) << 8; };
  if (b.bytes < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WAVE", 4) != 0) {
    fprintf(stderr, "%s: not a RIFF/WAVE file\n", path);
    exit(2);
  }
  bool fmt_ok = false;
  for (size_t off = 12; off + 8 <= b.bytes;) {
    const uint32_t size = u32(p + off + 4);
    const uint8_t* body = p + off + 8;
    if (off + 8 + size > b.bytes) break;
    if (!memcmp(p + off, "fmt ", 4) && size >= 16) {
      fmt_ok = u16(body) == 1 && u16(body + 2) == 1 && u32(body + 4) == 16000 && u16(body + 14) == 16;
      if (!fmt_ok) {
        fprintf(stderr, "%s: need 16 kHz mono 16-bit PCM (format %u, %u channels, %u Hz, %u bits)\n", path, u16(body),
                u16(body + 2), u32(body + 4), u16(body + 14));
        exit(2);
      }
    } else if (!memcmp(p + off, "data", 4) && fmt_ok) {
      *n = size / 2;
      return reinterpret_cast<const int16_t*>(body);
    }
    off += 8 + size + (size & 1);
  }
  fprintf(stderr, "%s: no fmt/data chunk\n", path);
  exit(2);
}

int cmd_arena(int argc, char**) {
  if (argc != 2) return 64;
  static NeuralNetwork nn;
  const NNStatus s = nn.initialize();
  printf("status=%s arena_used_bytes=%zu arena_size=%zu\n", nn_status_to_string(s), nn.arena_used_bytes(),
         NeuralNetwork::arena_size());
  return s == NNStatus::kOk ? 0 : 3;
}

int cmd_nn(int argc, char** argv) {
  if (argc != 4) return 64;
  static NeuralNetwork nn;
  if (nn.initialize() != NNStatus::kOk) { fprintf(stderr, "model: %s\n", nn_status_to_string(nn.status())); return 3; }
  Buf in = read_file(argv[2]);
  const size_t w = nn.input_size(), n = in.bytes / w, c = static_cast<size_t>(nn.num_classes());
  if (in.bytes % w) { fprintf(stderr, "%s: %zu bytes is not a whole number of %zu-byte windows\n", argv[2], in.bytes, w); return 2; }
  int8_t* out = static_cast<int8_t*>(xalloc(n * c + 1));
  const size_t a0 = allocs();
  const uint64_t t0 = micros();
  for (size_t i = 0; i < n; ++i) {
    const NNStatus s = nn.predict_int8(static_cast<const int8_t*>(in.data) + i * w, w, out + i * c, c);
    if (s != NNStatus::kOk) { fprintf(stderr, "window %zu: %s\n", i, nn_status_to_string(s)); return 3; }
  }
  const uint64_t dt = micros() - t0;
  write_file(argv[3], out, n * c);
  printf("windows=%zu us_per_inference=%.1f arena_used_bytes=%zu allocs_run=%zu\n", n, n ? double(dt) / n : 0.0,
         nn.arena_used_bytes(), allocs() - a0);
  return 0;
}

BarkDetector g_wav_detector;
struct WavLog {
  StepRecord* rec;
  int8_t* windows;
  size_t n;
};
void log_wav_step(const DetectionResult& r, void* user) {
  WavLog* log = static_cast<WavLog*>(user);
  log->rec[log->n] = to_record(r);
  g_wav_detector.frontend().copy_window(log->windows + log->n * AudioProcessor::kWindowSize);  // the step's model input
  ++log->n;
}

int cmd_wav(int argc, char** argv) {
  if (argc != 13 && argc != 18) return 64;
  Rng rng(static_cast<uint32_t>(strtoul(argv[2], nullptr, 10)));
  size_t n = 0;
  const int16_t* x = read_wav(argv[3], &n);
  const BarkDetectorConfig cfg = parse_config(argv + 6, argc - 6);
  const size_t max_steps = n / AudioProcessor::kHop + 2;
  WavLog log{static_cast<StepRecord*>(xalloc(sizeof(StepRecord) * max_steps)),
             static_cast<int8_t*>(xalloc(max_steps * AudioProcessor::kWindowSize)), 0};
  g_wav_detector.set_clock(micros);
  g_wav_detector.set_step_callback(log_wav_step, &log);
  const size_t a0 = allocs();
  if (!g_wav_detector.initialize(cfg)) {  // the public API: the TFLM model of lib/neural_network
    printf("initialize=false status=%s model=%s\n", bark_status_to_string(g_wav_detector.last_error()),
           bark_model_status_string());
    return 3;
  }
  const size_t a1 = allocs();
  for (size_t pos = 0; pos < n;) {
    size_t k = rng.chunk(6000);
    if (k > n - pos) k = n - pos;
    g_wav_detector.process(x + pos, k);
    pos += k;
  }
  const size_t a2 = allocs();
  const BarkDetectorStats st = g_wav_detector.get_stats();
  write_file(argv[4], log.rec, sizeof(StepRecord) * log.n);
  write_file(argv[5], log.windows, log.n * AudioProcessor::kWindowSize);
  printf("steps=%zu detections=%u frames=%u wide_frames=%u model_errors=%u avg_latency_ms=%.4f arena_used_bytes=%zu "
         "allocs_init=%zu allocs_run=%zu\n", log.n, st.detections, st.frames, st.wide_frames, st.model_errors,
         st.avg_latency_ms, bark_model_arena_used_bytes(), a1 - a0, a2 - a1);
  return 0;
}
#endif  // BARKBOOK_HOST_TFLM

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) { fprintf(stderr, "usage: host_driver COMMAND ...\n"); return 64; }
  const char* c = argv[1];
  int rc = 64;
  if (!strcmp(c, "fe")) rc = cmd_fe(argc, argv);
  else if (!strcmp(c, "fe_stream")) rc = cmd_fe_stream(argc, argv);
  else if (!strcmp(c, "post")) rc = cmd_post(argc, argv);
  else if (!strcmp(c, "detector")) rc = cmd_detector(argc, argv);
  else if (!strcmp(c, "levels")) rc = cmd_levels(argc, argv);
  else if (!strcmp(c, "labels")) rc = cmd_labels(argc, argv);
  else if (!strcmp(c, "i2s")) rc = cmd_i2s(argc, argv);
  else if (!strcmp(c, "ring")) rc = cmd_ring(argc, argv);
#ifdef BARKBOOK_HOST_TFLM
  else if (!strcmp(c, "arena")) rc = cmd_arena(argc, argv);
  else if (!strcmp(c, "nn")) rc = cmd_nn(argc, argv);
  else if (!strcmp(c, "wav")) rc = cmd_wav(argc, argv);
#endif
  if (rc == 64) fprintf(stderr, "bad command or arguments: %s\n", c);
  free_all();
  return rc;
}
