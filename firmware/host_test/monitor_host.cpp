// The firmware's serial side on the host (not part of the device build): a 16 kHz mono 16-bit WAV stands in for the
// microphone and a file descriptor (a pseudo-terminal, a pipe) for the UART. The app loop is main.cpp's: bytes in ->
// SerialMonitor::receive, audio -> SerialMonitor::process (BarkDetector::initialize(config) on TFLite Micro, the
// firmware's model), lines out. Built by barkbook.monitor.build_monitor_host; driven by tests/test_monitor.py.
//
//   monitor_host --wav IN.wav --fd N [--baud 115200] [--speed 0] [--loops 1] [--linger-ms 2000]
//     --fd     the "UART": read commands from it (never waiting), write the protocol's lines to it (raw mode if a tty)
//     --baud   the link speed the monitor paces captures for (a pty has none of its own)
//     --speed  audio time / wall time (0: as fast as the model runs)
//     --loops  play the WAV this many times (0: until the other side hangs up)
//     --linger-ms  after the audio: keep answering commands this long, or until the other side hangs up (2000)
// At the end of the audio it sends every capture still due and a STATS line; exit 0. Heap allocations during
// initialize()/begin() and during the loop are printed on stderr (the loop's must be 0).
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bark_detector.h"
#include "serial_protocol.h"

// Heap use is counted: the app loop must allocate nothing, like the device's (stderr: allocs_init / allocs_run).
#include "count_alloc.h"

namespace {
int g_fd = -1;
bool g_hung_up = false;
int16_t g_audio[16000 * 600];  // up to 10 minutes (static: the driver itself uses no heap either)

void write_all(const char* data, size_t n, void*) {
  while (n > 0 && !g_hung_up) {
    // Wait until the line takes bytes (a UART's TX blocks the same way), but notice a hang-up: a pty master's
    // write() would block forever once the other side is closed and its buffer full.
    pollfd p{g_fd, POLLOUT, 0};
    const int r = poll(&p, 1, 200);
    if (r > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL))) { g_hung_up = true; return; }
    if (r <= 0 || !(p.revents & POLLOUT)) continue;
    const ssize_t w = write(g_fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) { g_hung_up = true; return; }  // the other side closed: stop quietly
    data += w;
    n -= static_cast<size_t>(w);
  }
}

uint64_t micros() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000ull + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

uint32_t u32(const uint8_t* q) {
  return uint32_t(q[0]) | uint32_t(q[1]) << 8 | uint32_t(q[2]) << 16 | uint32_t(q[3]) << 24;
}
uint32_t u16(const uint8_t* q) { return uint32_t(q[0]) | uint32_t(q[1]) << 8; }

// 16 kHz mono 16-bit PCM WAV -> g_audio; the sample count, or an error naming the file and exit 2.
size_t read_wav(const char* path) {
  static uint8_t buf[sizeof(g_audio) + 4096];
  FILE* f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "%s: cannot open\n", path); exit(2); }
  const size_t bytes = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  if (bytes < 12 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4)) {
    fprintf(stderr, "%s: not a RIFF/WAVE file\n", path);
    exit(2);
  }
  bool fmt_ok = false;
  for (size_t off = 12; off + 8 <= bytes;) {
    const uint32_t size = u32(buf + off + 4);
    const uint8_t* body = buf + off + 8;
    if (!memcmp(buf + off, "fmt ", 4) && size >= 16) {
      fmt_ok = u16(body) == 1 && u16(body + 2) == 1 && u32(body + 4) == 16000 && u16(body + 14) == 16;
      if (!fmt_ok) { fprintf(stderr, "%s: need 16 kHz mono 16-bit PCM\n", path); exit(2); }
    } else if (!memcmp(buf + off, "data", 4) && fmt_ok) {
      const size_t n = (size < bytes - off - 8 ? size : bytes - off - 8) / 2;
      memcpy(g_audio, body, 2 * n);
      return n;
    }
    off += 8 + size + (size & 1);
  }
  fprintf(stderr, "%s: no fmt/data chunk (or longer than %zu s)\n", path, sizeof(g_audio) / 2 / 16000);
  exit(2);
}

void poll_input(SerialMonitor& mon) {
  char in[256];
  for (;;) {
    pollfd p{g_fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return;
    if (p.revents & (POLLHUP | POLLERR) && !(p.revents & POLLIN)) { g_hung_up = true; return; }
    const ssize_t n = read(g_fd, in, sizeof(in));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) { g_hung_up = true; return; }  // EOF, or EIO: the other end of the pty closed
    mon.receive(in, static_cast<size_t>(n));
  }
}

BarkDetector g_detector;
SerialMonitor g_monitor;
}  // namespace

int main(int argc, char** argv) {
  const char* wav = nullptr;
  uint32_t baud = 115200;
  double speed = 0.0;
  long loops = 1;
  long linger_ms = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--wav")) wav = argv[i + 1];
    else if (!strcmp(argv[i], "--fd")) g_fd = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--baud")) baud = static_cast<uint32_t>(strtoul(argv[i + 1], nullptr, 10));
    else if (!strcmp(argv[i], "--speed")) speed = strtod(argv[i + 1], nullptr);
    else if (!strcmp(argv[i], "--loops")) loops = strtol(argv[i + 1], nullptr, 10);
    else if (!strcmp(argv[i], "--linger-ms")) linger_ms = strtol(argv[i + 1], nullptr, 10);
    else { fprintf(stderr, "unknown option %s\n", argv[i]); return 64; }
  }
  if (wav == nullptr || g_fd < 0 || argc % 2 == 0) {
    fprintf(stderr, "usage: monitor_host --wav IN.wav --fd N [--baud B] [--speed X] [--loops N] [--linger-ms MS]\n");
    return 64;
  }
  const size_t n = read_wav(wav);
  if (isatty(g_fd)) {  // a UART has no line discipline: raw bytes both ways
    termios t;
    if (tcgetattr(g_fd, &t) == 0) { cfmakeraw(&t); tcsetattr(g_fd, TCSANOW, &t); }
  }
  BarkDetectorConfig config;  // the firmware's defaults (model_settings.h)
  g_detector.set_clock(micros);
  const size_t a0 = g_allocs;
  if (!g_detector.initialize(config)) {
    fprintf(stderr, "detector init failed: %s (%s)\n", bark_status_to_string(g_detector.last_error()),
            bark_model_status_string());
    return 3;
  }
  g_monitor.begin(g_detector, write_all, nullptr, baud);
  const size_t a1 = g_allocs;
  const uint64_t t0 = micros();
  uint64_t fed = 0;
  for (long loop = 0; (loops == 0 || loop < loops) && !g_hung_up; ++loop) {
    for (size_t pos = 0; pos < n && !g_hung_up; pos += 320) {  // one I2S block (20 ms) at a time, like the board
      poll_input(g_monitor);
      const size_t k = n - pos < 320 ? n - pos : 320;
      g_monitor.process(g_audio + pos, k);
      fed += k;
      if (speed > 0) {
        const uint64_t due = t0 + static_cast<uint64_t>(static_cast<double>(fed) * 1e6 / 16000.0 / speed);
        const uint64_t now = micros();
        if (due > now) usleep(static_cast<useconds_t>(due - now));
      }
    }
  }
  poll_input(g_monitor);
  g_monitor.flush_captures();
  g_monitor.print_stats(0);
  // Like a board, stay on the line: answer commands until the other side hangs up or --linger-ms pass.
  const uint64_t end = micros() + 1000ull * static_cast<uint64_t>(linger_ms);
  while (!g_hung_up && micros() < end) {
    poll_input(g_monitor);
    usleep(2000);
  }
  fprintf(stderr, "monitor_host: allocs_init=%zu allocs_run=%zu\n", a1 - a0, g_allocs - a1);
  return 0;
}
