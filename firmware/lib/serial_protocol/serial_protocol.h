// The serial protocol between the firmware and `barkbook monitor` (version 1; documented in firmware/README.md,
// "Serial protocol"). One text line per message, "TAG key=value ..." (no spaces inside values), '\n'-terminated:
//
//   out: HELLO (start-up, `hello`)  CFG (the rule in force)  STEP (every inference)  EVENT (every detection)
//        CAP + CAPD (a captured 1-s window: header, then base64 chunks)  STATS  OK / ERR (one reply per command)
//   in:  hello | get | stats | reset | threshold X | set KEY=VALUE... | capture off|events|near [X]
//
// SerialMonitor sits between the app and the detector: the app gives it audio and the bytes that arrive on the
// serial port, and a function that sends bytes. Portable C++17, no heap (the 1-s capture window and the audio
// history are members: keep the object in static storage), no STL; C headers only (snprintf, strtof).
//
//   static SerialMonitor mon;
//   mon.begin(detector, write_fn, nullptr, 115200);       // prints HELLO + CFG
//   for (;;) { mon.receive(bytes, n); mon.process(samples, k); }
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "bark_detector.h"

namespace proto {
inline constexpr int kVersion = 1;
inline constexpr size_t kMaxCommand = 160;                            // longest command line accepted (bytes)
inline constexpr size_t kMaxLine = 800;                               // longest line sent (a CAPD line)
inline constexpr size_t kCaptureSamples = static_cast<size_t>(fe::kSampleRate);  // one model window: 1 s
inline constexpr size_t kChunkSamples = 256;                          // samples per CAPD line (684 base64 chars)
inline constexpr size_t kChunks = (kCaptureSamples + kChunkSamples - 1) / kChunkSamples;
inline constexpr size_t kFeedBlock = 1024;                            // process() feeds the detector at most this
inline constexpr size_t kHistory = kCaptureSamples + 2 * kFeedBlock;  // audio kept for captures
}  // namespace proto

enum class CaptureMode : uint8_t { kOff = 0, kEvents = 1, kNear = 2 };  // kNear: events and near-misses
const char* capture_mode_to_string(CaptureMode m);

// Standard base64 (RFC 4648, '=' padding) of in[n] into out (4*ceil(n/3) chars + NUL); returns the chars written.
size_t base64_encode(const uint8_t* in, size_t n, char* out, size_t out_size);
// CRC-32 (IEEE 802.3, as zlib.crc32) of data[n], continuing from `crc` (0 to start).
uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t n);

typedef void (*SerialWriteFn)(const char* data, size_t n, void* user);

class SerialMonitor {
 public:
  // Attach to an initialized detector (its step callback becomes the monitor's) and print HELLO and CFG.
  // `baud` paces captures: at most about a quarter of the link's bytes per inference step go to CAPD lines.
  void begin(BarkDetector& detector, SerialWriteFn write, void* user, uint32_t baud);
  // Bytes received on the serial port (any split); every complete line is a command, answered at once.
  void receive(const char* data, size_t n);
  // Run the detector on n samples (STEP/EVENT lines, captures), then send the capture chunks due. Returns the
  // number of detections (EVENT lines) among them.
  uint32_t process(const int16_t* samples, size_t n);
  // Send every remaining capture chunk now (e.g. when the audio ends on the host).
  void flush_captures();
  // A STATS line; `dropped_samples`: the app's audio ring drops (the `stats` command repeats the last count given).
  void print_stats(uint32_t dropped_samples);
  uint32_t captures_sent() const { return captures_sent_; }
  uint32_t captures_dropped() const { return captures_dropped_; }
  CaptureMode capture_mode() const { return capture_; }
  // STEP lines on or off (also `set steps=0|1` at run time).
  void set_print_steps(bool on) { steps_off_ = !on; }

 private:
  static void on_step_cb(const DetectionResult& r, void* self);
  void on_step(const DetectionResult& r);
  void command(char* line);
  bool set_pairs(char* args, BarkDetectorConfig* c, CaptureMode* mode, float* cap_thr, bool* steps);
  void send_hello();
  void send_config();
  void send_capture_chunks(size_t max_chunks);
  void maybe_fill_capture();
  void line(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void reply_err(const char* cmd, const char* why, const char* what);

  BarkDetector* det_ = nullptr;
  SerialWriteFn write_ = nullptr;
  void* user_ = nullptr;
  // Every member starts at zero (begin() sets the rest), so a static SerialMonitor is .bss: its 66 KB of buffers
  // take no flash for an initial image.
  uint32_t baud_ = 0;
  size_t chunks_per_step_ = 0;
  bool steps_off_ = false;
  CaptureMode capture_ = CaptureMode::kOff;
  float capture_threshold_ = 0.0f;
  // input line
  char cmd_[proto::kMaxCommand + 1] = {};
  size_t cmd_len_ = 0;
  bool cmd_overflow_ = false;
  // audio history: the last kHistory samples fed, samples_fed_ in all (since begin)
  int16_t history_[proto::kHistory] = {};
  uint64_t samples_fed_ = 0;      // the detector's step s covers samples [s * hop, s * hop + 1 s) of these
  uint32_t next_step_ = 0;
  size_t chunk_credit_ = 0;       // CAPD lines that may go out now (chunks_per_step_ per inference step)
  uint32_t events_ = 0;           // EVENT lines sent (process() returns the increase)
  uint32_t dropped_ = 0;          // the last ring-drop count print_stats() was given
  // capture: pending (waiting for the window's last samples) -> sending (CAPD chunks) -> idle
  enum class CapState : uint8_t { kIdle, kPending, kSending } cap_state_ = CapState::kIdle;
  int16_t cap_buf_[proto::kCaptureSamples] = {};
  uint64_t cap_start_ = 0;
  uint32_t cap_id_ = 0, cap_step_ = 0, cap_t_ms_ = 0;
  float cap_score_ = 0.0f;
  int cap_class_ = 0;             // the step's class: the bark class for an event, the top class for a near-miss
  bool cap_event_ = false;
  size_t cap_next_chunk_ = 0;
  uint32_t last_cap_step_ = 0;
  bool has_cap_ = false;
  uint32_t captures_sent_ = 0, captures_dropped_ = 0;
  char out_[proto::kMaxLine + 1] = {};
};
