#include "serial_protocol.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace {
constexpr uint32_t kHopSamples(uint32_t hop_ms) { return hop_ms * static_cast<uint32_t>(fe::kSampleRate) / 1000u; }

bool parse_bool(const char* v, bool* out) {
  if (!strcmp(v, "1") || !strcmp(v, "on") || !strcmp(v, "true")) { *out = true; return true; }
  if (!strcmp(v, "0") || !strcmp(v, "off") || !strcmp(v, "false")) { *out = false; return true; }
  return false;
}

bool parse_float(const char* v, float* out) {
  char* end = nullptr;
  const float f = strtof(v, &end);
  if (end == v || *end != '\0' || !(f == f)) return false;  // empty, trailing junk or NaN
  *out = f;
  return true;
}

bool parse_uint(const char* v, uint32_t* out) {
  char* end = nullptr;
  if (*v < '0' || *v > '9') return false;
  const unsigned long u = strtoul(v, &end, 10);
  if (*end != '\0' || u > 0xFFFFFFFFul) return false;
  *out = static_cast<uint32_t>(u);
  return true;
}

bool parse_mode(const char* v, CaptureMode* out) {
  if (!strcmp(v, "off") || !strcmp(v, "0")) *out = CaptureMode::kOff;
  else if (!strcmp(v, "events") || !strcmp(v, "1")) *out = CaptureMode::kEvents;
  else if (!strcmp(v, "near") || !strcmp(v, "2")) *out = CaptureMode::kNear;
  else return false;
  return true;
}

char* next_token(char** s) {  // split on spaces, in place
  while (**s == ' ') ++*s;
  if (**s == '\0') return nullptr;
  char* tok = *s;
  while (**s && **s != ' ') ++*s;
  if (**s) *(*s)++ = '\0';
  return tok;
}
}  // namespace

const char* capture_mode_to_string(CaptureMode m) {
  switch (m) {
    case CaptureMode::kOff: return "off";
    case CaptureMode::kEvents: return "events";
    case CaptureMode::kNear: return "near";
  }
  return "unknown";
}

size_t base64_encode(const uint8_t* in, size_t n, char* out, size_t out_size) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const size_t need = 4 * ((n + 2) / 3);
  if (out_size < need + 1) return 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t v =
        uint32_t(in[i]) << 16 | (i + 1 < n ? uint32_t(in[i + 1]) << 8 : 0u) | (i + 2 < n ? in[i + 2] : 0u);
    out[o++] = kAlphabet[v >> 18 & 63];
    out[o++] = kAlphabet[v >> 12 & 63];
    out[o++] = i + 1 < n ? kAlphabet[v >> 6 & 63] : '=';
    out[o++] = i + 2 < n ? kAlphabet[v & 63] : '=';
  }
  out[o] = '\0';
  return o;
}

uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t n) {
  crc = ~crc;  // bitwise, no table: 1 KB of flash saved, speed irrelevant at serial rates
  for (size_t i = 0; i < n; ++i) {
    crc ^= data[i];
    for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void SerialMonitor::line(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out_, sizeof(out_) - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (static_cast<size_t>(n) > sizeof(out_) - 2) n = static_cast<int>(sizeof(out_) - 2);  // cut, still one line
  out_[n] = '\n';
  write_(out_, static_cast<size_t>(n) + 1, user_);
}

void SerialMonitor::begin(BarkDetector& detector, SerialWriteFn write, void* user, uint32_t baud) {
  det_ = &detector;
  write_ = write;
  user_ = user;
  baud_ = baud ? baud : 115200;
  capture_threshold_ = 0.5f;
  // A quarter of the link per step for captures: baud/10 bytes/s * hop, over ~700 bytes per CAPD line.
  const uint64_t bytes_per_step = uint64_t(baud_) / 10u * det_->config().hop_ms / 1000u;
  chunks_per_step_ = static_cast<size_t>(bytes_per_step / 4u / 700u);
  if (chunks_per_step_ < 1) chunks_per_step_ = 1;
  det_->set_step_callback(on_step_cb, this);
  send_hello();
  send_config();
}

void SerialMonitor::send_hello() {
  char labels[160];
  size_t o = 0;
  labels[0] = '\0';
  for (int c = 0; c < det::kNumClasses; ++c)
    o += static_cast<size_t>(snprintf(labels + o, sizeof(labels) - o, "%s%s", c ? "," : "", det::kClassLabels[c]));
  line("HELLO proto=%d app=barkbook frontend=%s labels=%s bark_class=%d rate=%d hop_ms=%u window=%u chunk=%u baud=%u",
       proto::kVersion, BARKBOOK_FRONTEND_HASH, labels, det_->config().bark_class, fe::kSampleRate,
       static_cast<unsigned>(det_->config().hop_ms), static_cast<unsigned>(proto::kCaptureSamples),
       static_cast<unsigned>(proto::kChunkSamples), static_cast<unsigned>(baud_));
}

void SerialMonitor::send_config() {
  const BarkDetectorConfig& c = det_->config();
  line("CFG step=%u confidence_threshold=%.7g min_bark_duration_ms=%u enable_temporal_filter=%d average_window=%u "
       "suppression_ms=%u hop_ms=%u bark_class=%d peak_window=%u vote_k=%u vote_n=%u enable_hysteresis=%d "
       "off_threshold=%.7g capture=%s capture_threshold=%.7g steps=%d",
       static_cast<unsigned>(next_step_), static_cast<double>(c.confidence_threshold),
       static_cast<unsigned>(c.min_bark_duration_ms), c.enable_temporal_filter ? 1 : 0,
       static_cast<unsigned>(c.average_window), static_cast<unsigned>(c.suppression_ms),
       static_cast<unsigned>(c.hop_ms), c.bark_class, static_cast<unsigned>(c.peak_window),
       static_cast<unsigned>(c.vote_k), static_cast<unsigned>(c.vote_n), c.enable_hysteresis ? 1 : 0,
       static_cast<double>(c.off_threshold), capture_mode_to_string(capture_), static_cast<double>(capture_threshold_),
       steps_off_ ? 0 : 1);
}

void SerialMonitor::print_stats(uint32_t dropped_samples) {
  dropped_ = dropped_samples;
  const BarkDetectorStats s = det_->get_stats();
  line("STATS inferences=%u detections=%u latency_avg_ms=%.1f latency_max_ms=%.1f frame_us=%.0f wide=%u errors=%u "
       "dropped=%u captures=%u captures_dropped=%u",
       static_cast<unsigned>(s.inferences), static_cast<unsigned>(s.detections), static_cast<double>(s.avg_latency_ms),
       static_cast<double>(s.max_latency_ms), static_cast<double>(s.avg_frame_us), static_cast<unsigned>(s.wide_frames),
       static_cast<unsigned>(s.model_errors), static_cast<unsigned>(dropped_samples),
       static_cast<unsigned>(captures_sent_), static_cast<unsigned>(captures_dropped_));
}

void SerialMonitor::reply_err(const char* cmd, const char* why, const char* what) {
  line("ERR %s %s%s%s", cmd, why, what ? ": " : "", what ? what : "");
}

// KEY=VALUE pairs onto copies of the settings; false (and an ERR line) at the first bad pair.
bool SerialMonitor::set_pairs(char* args, BarkDetectorConfig* c, CaptureMode* mode, float* cap_thr, bool* steps) {
  int n = 0;
  for (char* tok; (tok = next_token(&args)) != nullptr; ++n) {
    char* eq = strchr(tok, '=');
    if (eq == nullptr) { reply_err("set", "expected KEY=VALUE", tok); return false; }
    *eq = '\0';
    const char* k = tok;
    const char* v = eq + 1;
    bool ok = false;
    if (!strcmp(k, "threshold") || !strcmp(k, "confidence_threshold")) ok = parse_float(v, &c->confidence_threshold);
    else if (!strcmp(k, "min_bark_duration_ms")) ok = parse_uint(v, &c->min_bark_duration_ms);
    else if (!strcmp(k, "enable_temporal_filter")) ok = parse_bool(v, &c->enable_temporal_filter);
    else if (!strcmp(k, "average_window")) ok = parse_uint(v, &c->average_window);
    else if (!strcmp(k, "suppression_ms")) ok = parse_uint(v, &c->suppression_ms);
    else if (!strcmp(k, "peak_window")) ok = parse_uint(v, &c->peak_window);
    else if (!strcmp(k, "vote_k")) ok = parse_uint(v, &c->vote_k);
    else if (!strcmp(k, "vote_n")) ok = parse_uint(v, &c->vote_n);
    else if (!strcmp(k, "enable_hysteresis")) ok = parse_bool(v, &c->enable_hysteresis);
    else if (!strcmp(k, "off_threshold")) ok = parse_float(v, &c->off_threshold);
    else if (!strcmp(k, "capture")) ok = parse_mode(v, mode);
    else if (!strcmp(k, "capture_threshold")) ok = parse_float(v, cap_thr) && *cap_thr >= 0.0f && *cap_thr <= 1.0f;
    else if (!strcmp(k, "steps")) ok = parse_bool(v, steps);
    else { reply_err("set", "unknown key", k); return false; }
    if (!ok) { reply_err("set", "bad value", k); return false; }
  }
  if (n == 0) { reply_err("set", "expected KEY=VALUE", nullptr); return false; }
  return true;
}

void SerialMonitor::command(char* text) {
  char* rest = text;
  const char* cmd = next_token(&rest);
  if (cmd == nullptr) return;  // empty line: nothing to answer
  if (!strcmp(cmd, "hello")) {
    line("OK hello");
    send_hello();
    send_config();
    return;
  }
  if (!strcmp(cmd, "get")) { line("OK get"); send_config(); return; }
  if (!strcmp(cmd, "stats")) { line("OK stats"); print_stats(dropped_); return; }
  BarkDetectorConfig c = det_->config();
  CaptureMode mode = capture_;
  float cap_thr = capture_threshold_;
  bool steps = !steps_off_;
  if (!strcmp(cmd, "reset")) {
    c = BarkDetectorConfig();
  } else if (!strcmp(cmd, "threshold")) {
    const char* v = next_token(&rest);
    if (v == nullptr || !parse_float(v, &c.confidence_threshold)) { reply_err(cmd, "expected a number", v); return; }
  } else if (!strcmp(cmd, "capture")) {
    const char* v = next_token(&rest);
    const char* t = next_token(&rest);
    if (v == nullptr || !parse_mode(v, &mode)) { reply_err(cmd, "expected off, events or near", v); return; }
    if (t != nullptr && !(parse_float(t, &cap_thr) && cap_thr >= 0.0f && cap_thr <= 1.0f)) {
      reply_err(cmd, "expected a threshold in [0, 1]", t);
      return;
    }
  } else if (!strcmp(cmd, "set")) {
    if (!set_pairs(rest, &c, &mode, &cap_thr, &steps)) return;
  } else {
    reply_err(cmd, "unknown command (hello, get, stats, reset, threshold, set, capture)", nullptr);
    return;
  }
  if (!det_->set_config(c)) {
    reply_err(cmd, "rejected by the detector", bark_status_to_string(det_->last_error()));
    return;
  }
  capture_ = mode;
  capture_threshold_ = cap_thr;
  steps_off_ = !steps;
  if (capture_ == CaptureMode::kOff && cap_state_ == CapState::kPending) cap_state_ = CapState::kIdle;
  line("OK %s step=%u", cmd, static_cast<unsigned>(next_step_));
  send_config();
}

void SerialMonitor::receive(const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const char ch = data[i];
    if (ch == '\n' || ch == '\r') {
      if (cmd_overflow_) reply_err("line", "too long", nullptr);
      else if (cmd_len_ > 0) { cmd_[cmd_len_] = '\0'; command(cmd_); }
      cmd_len_ = 0;
      cmd_overflow_ = false;
    } else if (cmd_len_ < proto::kMaxCommand) {
      cmd_[cmd_len_++] = ch == '\t' ? ' ' : ch;
    } else {
      cmd_overflow_ = true;
    }
  }
}

void SerialMonitor::on_step_cb(const DetectionResult& r, void* self) {
  static_cast<SerialMonitor*>(self)->on_step(r);
}

void SerialMonitor::on_step(const DetectionResult& r) {
  next_step_ = r.step + 1;
  if (!steps_off_) {
    const float* s = det_->last_scores();
    char scores[16 * det::kNumClasses + 1];
    size_t o = 0;
    for (int c = 0; c < det::kNumClasses && o < sizeof(scores); ++c)
      o += static_cast<size_t>(
          snprintf(scores + o, sizeof(scores) - o, "%s%.9g", c ? "," : "", static_cast<double>(s[c])));
    line("STEP step=%u t_ms=%u class=%s bark=%.9g scores=%s", static_cast<unsigned>(r.step),
         static_cast<unsigned>(r.timestamp_ms), bark_class_to_string(r.detected_class), static_cast<double>(r.bark_score),
         scores);
  }
  if (r.is_bark) ++events_;
  if (r.is_bark)
    line("EVENT step=%u t_ms=%u class=%s conf=%.9g", static_cast<unsigned>(r.step), static_cast<unsigned>(r.timestamp_ms),
         bark_class_to_string(r.detected_class), static_cast<double>(r.confidence));
  if (cap_state_ == CapState::kSending) chunk_credit_ += chunks_per_step_;
  // Capture candidates: every event; with kNear also steps at or above capture_threshold_ that fired nothing.
  const bool near = capture_ == CaptureMode::kNear && !r.is_bark && r.bark_score >= capture_threshold_;
  if (capture_ == CaptureMode::kOff || !(r.is_bark || near)) return;
  const uint32_t hop = kHopSamples(det_->config().hop_ms);
  const uint32_t overlap_steps = static_cast<uint32_t>((proto::kCaptureSamples + hop - 1) / hop);
  if (near && has_cap_ && r.step - last_cap_step_ < overlap_steps) return;  // same sound as the last capture
  // One window in flight at a time; an event beats a near-miss (a near-miss being sent is abandoned: the monitor
  // drops a capture whose chunks stop before the end).
  const bool replace = cap_state_ != CapState::kIdle && r.is_bark && !cap_event_;
  if (cap_state_ != CapState::kIdle) {
    ++captures_dropped_;
    if (!replace) return;
  }
  cap_state_ = CapState::kPending;
  cap_start_ = uint64_t(r.step) * hop;
  cap_step_ = r.step;
  cap_t_ms_ = r.timestamp_ms;
  cap_score_ = r.bark_score;
  cap_class_ = r.detected_class;
  cap_event_ = r.is_bark;
  last_cap_step_ = r.step;
  has_cap_ = true;
}

void SerialMonitor::maybe_fill_capture() {
  if (cap_state_ != CapState::kPending || samples_fed_ < cap_start_ + proto::kCaptureSamples) return;
  if (samples_fed_ - cap_start_ > proto::kHistory) {  // no longer in the history (cannot happen with process())
    cap_state_ = CapState::kIdle;
    ++captures_dropped_;
    return;
  }
  for (size_t i = 0; i < proto::kCaptureSamples; ++i) cap_buf_[i] = history_[(cap_start_ + i) % proto::kHistory];
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(cap_buf_);  // little-endian int16 on ESP32 and x86
  const uint32_t crc = crc32_update(0, bytes, sizeof(cap_buf_));
  ++cap_id_;
  line("CAP id=%u kind=%s step=%u t_ms=%u class=%s bark=%.9g rate=%d samples=%u chunks=%u crc32=%08x",
       static_cast<unsigned>(cap_id_), cap_event_ ? "event" : "near", static_cast<unsigned>(cap_step_),
       static_cast<unsigned>(cap_t_ms_), bark_class_to_string(cap_class_),
       static_cast<double>(cap_score_), fe::kSampleRate, static_cast<unsigned>(proto::kCaptureSamples),
       static_cast<unsigned>(proto::kChunks), static_cast<unsigned>(crc));
  cap_state_ = CapState::kSending;
  cap_next_chunk_ = 0;
  chunk_credit_ = chunks_per_step_;
}

void SerialMonitor::send_capture_chunks(size_t max_chunks) {
  for (size_t k = 0; k < max_chunks && cap_state_ == CapState::kSending; ++k) {
    const size_t i = cap_next_chunk_++;
    const size_t start = i * proto::kChunkSamples;
    const size_t len = start + proto::kChunkSamples <= proto::kCaptureSamples ? proto::kChunkSamples
                                                                            : proto::kCaptureSamples - start;
    char b64[4 * ((2 * proto::kChunkSamples + 2) / 3) + 1];
    base64_encode(reinterpret_cast<const uint8_t*>(cap_buf_ + start), 2 * len, b64, sizeof(b64));
    line("CAPD id=%u i=%u %s", static_cast<unsigned>(cap_id_), static_cast<unsigned>(i), b64);
    if (cap_next_chunk_ == proto::kChunks) {
      cap_state_ = CapState::kIdle;
      ++captures_sent_;
    }
  }
}

uint32_t SerialMonitor::process(const int16_t* samples, size_t n) {
  const uint32_t events_before = events_;
  while (n > 0) {  // blocks of at most kFeedBlock keep every pending window inside the history
    const size_t k = n < proto::kFeedBlock ? n : proto::kFeedBlock;
    for (size_t i = 0; i < k; ++i) history_[(samples_fed_ + i) % proto::kHistory] = samples[i];
    samples_fed_ += k;
    det_->process(samples, k);
    maybe_fill_capture();
    if (cap_state_ == CapState::kSending && chunk_credit_ > 0) {
      const size_t due = chunk_credit_;
      chunk_credit_ = 0;
      send_capture_chunks(due);
    }
    samples += k;
    n -= k;
  }
  return events_ - events_before;
}

void SerialMonitor::flush_captures() {
  maybe_fill_capture();
  send_capture_chunks(proto::kChunks);
}
