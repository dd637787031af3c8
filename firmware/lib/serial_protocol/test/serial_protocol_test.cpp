// SerialMonitor (the serial protocol, firmware/README.md "Serial protocol") on a BarkDetector whose model plays a
// scripted bark score: HELLO/CFG at start, one STEP per inference, EVENT lines, commands and their replies, a
// threshold change taking effect at the step the OK names, and captured windows equal to the audio fed (base64
// decoded, CRC-32 checked). Known base64 and CRC-32 vectors. Build and run: make -C firmware test
#include <stdlib.h>
#include <string.h>

#include "serial_protocol.h"
#include "unit_test.h"

namespace {
constexpr int kBark = det::kBarkClass;
// Bark score of step s: a 3-step "bark" of 0.9 every 25 steps (from step 10), 0.6 at steps 5 and 18 mod 25, else 0.1.
float bark_of(uint32_t s) {
  const uint32_t m = s % 25;
  return m >= 10 && m < 13 ? 0.9f : m == 5 || m == 18 ? 0.6f : 0.1f;
}

class ScriptModel : public ScoreModel {
 public:
  int num_classes() const override { return det::kNumClasses; }
  size_t input_size() const override { return AudioProcessor::kWindowSize; }
  int predict(const int8_t*, size_t, float* scores, size_t n) override {
    for (size_t c = 0; c < n; ++c) scores[c] = (1.0f - bark_of(calls)) / static_cast<float>(n - 1);
    scores[kBark] = bark_of(calls++);
    return 0;
  }
  uint32_t calls = 0;
};

char g_out[1 << 21];
size_t g_len = 0;
void collect(const char* d, size_t n, void*) {
  if (g_len + n < sizeof(g_out)) { memcpy(g_out + g_len, d, n); g_len += n; }
}

// The next line of g_out from *pos that starts with `tag ` (nullptr if none); copies it, NUL-terminated, to buf.
const char* find_line(size_t* pos, const char* tag, char* buf, size_t size) {
  const size_t tl = strlen(tag);
  while (*pos < g_len) {
    const char* s = g_out + *pos;
    const char* e = static_cast<const char*>(memchr(s, '\n', g_len - *pos));
    const size_t len = e ? static_cast<size_t>(e - s) : g_len - *pos;
    *pos += len + 1;
    if (len > tl && !strncmp(s, tag, tl) && s[tl] == ' ' && len < size) {
      memcpy(buf, s, len);
      buf[len] = '\0';
      return buf;
    }
  }
  return nullptr;
}

long field(const char* line, const char* key) {  // integer value of " key=" in line (-1 if absent)
  char pat[40];
  snprintf(pat, sizeof(pat), " %s=", key);
  const char* p = strstr(line, pat);
  return p ? strtol(p + strlen(pat), nullptr, 10) : -1;
}

size_t b64_decode(const char* s, uint8_t* out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  size_t o = 0;
  for (; s[0] && s[1] && s[2] && s[3]; s += 4) {
    const uint32_t v = uint32_t(val(s[0])) << 18 | uint32_t(val(s[1])) << 12 | uint32_t(s[2] == '=' ? 0 : val(s[2])) << 6 |
                       uint32_t(s[3] == '=' ? 0 : val(s[3]));
    out[o++] = static_cast<uint8_t>(v >> 16);
    if (s[2] != '=') out[o++] = static_cast<uint8_t>(v >> 8);
    if (s[3] != '=') out[o++] = static_cast<uint8_t>(v);
  }
  return o;
}

constexpr size_t kSeconds = 30;
int16_t g_audio[kSeconds * 16000];
int16_t g_cap[proto::kCaptureSamples];
char g_line[proto::kMaxLine + 2];

void feed(SerialMonitor& mon, size_t from, size_t to) {
  for (size_t pos = from, k = 7; pos < to; k = k * 31 % 3001 + 1) {  // uneven chunks, some larger than kFeedBlock
    const size_t take = k < to - pos ? k : to - pos;
    mon.process(g_audio + pos, take);
    pos += take;
  }
}

void send(SerialMonitor& mon, const char* text) { mon.receive(text, strlen(text)); }

// Every CAP line from `pos` with the CAPD lines that follow it: a complete capture decodes to the audio window of
// its step (CRC checked); an incomplete one (a near-miss abandoned for an event) must be a near-miss.
void check_captures(size_t pos, int* events, int* nears, int* abandoned) {
  static char cap[200];
  long id = -1, step = 0, next = 0;
  size_t got = 0;
  auto close = [&]() {
    if (id < 0) return;
    if (next != static_cast<long>(proto::kChunks)) {
      CHECK(strstr(cap, "kind=near") != nullptr, "incomplete capture %ld is not a near-miss: %s", id, cap);
      ++*abandoned;
      return;
    }
    CHECK(got == sizeof(g_cap), "capture %ld: %zu bytes", id, got);
    const uint32_t crc = static_cast<uint32_t>(strtoul(strstr(cap, "crc32=") + 6, nullptr, 16));
    CHECK(crc == crc32_update(0, reinterpret_cast<const uint8_t*>(g_cap), sizeof(g_cap)), "capture %ld crc", id);
    CHECK(!memcmp(g_cap, g_audio + step * 3840, sizeof(g_cap)), "capture %ld = audio of step %ld", id, step);
    if (strstr(cap, "kind=event")) ++*events; else ++*nears;
  };
  for (size_t q = pos; q < g_len;) {
    const char* s = g_out + q;
    const size_t len = static_cast<size_t>(static_cast<const char*>(memchr(s, '\n', g_len - q)) - s);
    q += len + 1;
    if (len < sizeof(g_line)) { memcpy(g_line, s, len); g_line[len] = '\0'; } else continue;
    if (!strncmp(g_line, "CAP ", 4)) {
      close();
      strcpy(cap, g_line);
      id = field(cap, "id"), step = field(cap, "step"), next = 0, got = 0;
      CHECK(field(cap, "chunks") == static_cast<long>(proto::kChunks), "%s", cap);
    } else if (!strncmp(g_line, "CAPD ", 5)) {
      CHECK(field(g_line, "id") == id && field(g_line, "i") == next, "chunk out of order: %.40s", g_line);
      const char* b64 = strrchr(g_line, ' ') + 1;
      if (got + 3 * strlen(b64) / 4 <= sizeof(g_cap) + 2)
        got += b64_decode(b64, reinterpret_cast<uint8_t*>(g_cap) + got);
      ++next;
    }
  }
  close();
}
}  // namespace

int main() {
  char b[16];
  const char* vec[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foobar", "Zm9vYmFy"}};
  for (auto& v : vec) {
    base64_encode(reinterpret_cast<const uint8_t*>(v[0]), strlen(v[0]), b, sizeof(b));
    CHECK(!strcmp(b, v[1]), "base64(%s) = %s", v[0], b);
  }
  CHECK(base64_encode(reinterpret_cast<const uint8_t*>("foo"), 3, b, 4) == 0, "too small a buffer");
  CHECK(crc32_update(0, reinterpret_cast<const uint8_t*>("123456789"), 9) == 0xCBF43926u, "crc32 check value");

  for (size_t i = 0; i < kSeconds * 16000; ++i) g_audio[i] = static_cast<int16_t>((i * 2654435761u) >> 16);
  static ScriptModel model;
  static BarkDetector det;
  static SerialMonitor mon;
  BarkDetectorConfig cfg;
  cfg.confidence_threshold = 0.95f;  // above every scripted score: no event at first
  cfg.average_window = 1;
  cfg.min_bark_duration_ms = 0;
  cfg.suppression_ms = 1000;
  CHECK(det.initialize(cfg, model), "initialize: %s", bark_status_to_string(det.last_error()));
  mon.begin(det, collect, nullptr, 921600);  // 7 CAPD lines per step
  size_t pos = 0;
  CHECK(find_line(&pos, "HELLO", g_line, sizeof(g_line)) && field(g_line, "proto") == proto::kVersion, "hello");
  CHECK(strstr(g_line, " labels=") && field(g_line, "hop_ms") == 240, "%s", g_line);
  CHECK(find_line(&pos, "CFG", g_line, sizeof(g_line)) && strstr(g_line, "confidence_threshold=0.95 "), "%s", g_line);

  feed(mon, 0, 10 * 16000);  // 10 s: steps 0..37
  size_t p = pos;
  int steps = 0, events = 0;
  while (find_line(&p, "STEP", g_line, sizeof(g_line))) {
    CHECK(field(g_line, "step") == steps && field(g_line, "t_ms") == steps * 240, "%s", g_line);
    ++steps;
  }
  CHECK(steps == 38, "steps %d", steps);
  p = pos;
  while (find_line(&p, "EVENT", g_line, sizeof(g_line))) ++events;
  CHECK(events == 0, "events above every score: %d", events);

  // Bad commands: one ERR each, nothing changes.
  const char* bad[] = {"threshold 2\n", "threshold x\n", "set foo=1\n", "set average_window=0\n", "set threshold\n",
                       "capture maybe\n", "frobnicate\n"};
  for (const char* c : bad) {
    pos = g_len;
    send(mon, c);
    CHECK(find_line(&pos, "ERR", g_line, sizeof(g_line)) != nullptr, "no ERR for %s", c);
  }
  CHECK(det.config().confidence_threshold == 0.95f && det.config().average_window == 1, "config unchanged");
  char longline[300];
  memset(longline, 'x', sizeof(longline));
  pos = g_len;
  mon.receive(longline, sizeof(longline));
  send(mon, "\n");
  CHECK(find_line(&pos, "ERR", g_line, sizeof(g_line)) && strstr(g_line, "too long"), "long line");

  // Lower the threshold to 0.7 (sent in two pieces: bytes arrive in any split); capture events (0.9) and
  // near-misses (0.6: at or above the capture threshold 0.55, no event).
  pos = g_len;
  send(mon, "set threshold=0.7 sup");
  send(mon, "pression_ms=500\r\ncapture near 0.55\n");
  CHECK(find_line(&pos, "OK", g_line, sizeof(g_line)) && field(g_line, "step") == 38, "%s", g_line);
  CHECK(det.config().confidence_threshold == 0.7f && det.config().suppression_ms == 500, "set applied");
  CHECK(find_line(&pos, "OK", g_line, sizeof(g_line)) && strstr(g_line, "OK capture"), "%s", g_line);
  CHECK(find_line(&pos, "CFG", g_line, sizeof(g_line)) && strstr(g_line, " capture=near capture_threshold=0.55 "), "%s",
        g_line);
  const size_t after = g_len;
  feed(mon, 10 * 16000, kSeconds * 16000);  // 20 s more: steps 38..
  mon.flush_captures();
  // Expected: steps >= 38 at or above 0.7, at least 500 ms (3 steps) after the previous event.
  long expect[16], n_expect = 0, last = -100;
  for (long s = 38; s <= static_cast<long>((kSeconds * 16000 - 15872) / 3840) && n_expect < 16; ++s)
    if (bark_of(static_cast<uint32_t>(s)) >= 0.7f && (s - last) * 240 >= 500) expect[n_expect++] = last = s;
  p = after;
  events = 0;
  while (find_line(&p, "EVENT", g_line, sizeof(g_line))) {
    CHECK(events < n_expect && field(g_line, "step") == expect[events], "%s", g_line);
    ++events;
  }
  CHECK(events == n_expect && n_expect == 3, "events %d, expected %ld", events, n_expect);
  int ev = 0, nr = 0, ab = 0;
  check_captures(after, &ev, &nr, &ab);
  const int caps = ev + nr;
  CHECK(caps == static_cast<int>(mon.captures_sent()) && ev == 3 && nr >= 1, "captures %d: %d events, %d near, %d abandoned",
        caps, ev, nr, ab);
  pos = g_len;
  send(mon, "stats\n");
  CHECK(find_line(&pos, "STATS", g_line, sizeof(g_line)) && field(g_line, "captures") == caps, "%s", g_line);
  return unit_test_result("serial_protocol_test");
}
