#include "audio_processor.h"

#include <math.h>
#include <string.h>

namespace {

// Math overloads that do not depend on <cmath> (the Xtensa picolibc build has only C headers).
inline float tlog10(float v) { return log10f(v); }
inline double tlog10(double v) { return log10(v); }

template <typename T> struct Tables;
template <> struct Tables<float> {
  static const float* window() { return fe::kWindowF; }
  static const float* tw_cos() { return fe::kTwCosF; }
  static const float* tw_sin() { return fe::kTwSinF; }
  static const float* rt_cos() { return fe::kRtCosF; }
  static const float* rt_sin() { return fe::kRtSinF; }
  static float ref_db() { return fe::kRefPowerDb; }
  static float floor_power() { return fe::kPowerFloor; }
  static float clamp_min() { return fe::kClampMinDb; }
  static float clamp_max() { return fe::kClampMaxDb; }
};
template <> struct Tables<double> {
  static const double* window() { return fe::kWindowD; }
  static const double* tw_cos() { return fe::kTwCosD; }
  static const double* tw_sin() { return fe::kTwSinD; }
  static const double* rt_cos() { return fe::kRtCosD; }
  static const double* rt_sin() { return fe::kRtSinD; }
  static double ref_db() { return fe::kRefPowerDbD; }
  static double floor_power() { return fe::kPowerFloorD; }
  static double clamp_min() { return fe::kClampMinDbD; }
  static double clamp_max() { return fe::kClampMaxDbD; }
};

constexpr int kM = fe::kFftHalf;

// In-place iterative radix-2 decimation-in-time complex FFT of kM points (re/im separate arrays, input already
// in bit-reversed order). Twiddles exp(-2*pi*i*k/kM) come from the generated tables (computed in float64).
template <typename T>
void complex_fft(T* re, T* im) {
  using Tb = Tables<T>;
  for (int half = 1; half < kM; half <<= 1) {
    const int step = kM / (2 * half);
    for (int start = 0; start < kM; start += 2 * half) {
      for (int j = 0; j < half; ++j) {
        const T c = Tb::tw_cos()[j * step];
        const T s = Tb::tw_sin()[j * step];
        const int a = start + j, b = a + half;
        // t = W * x[b], W = c - i*s
        const T tr = re[b] * c + im[b] * s;
        const T ti = im[b] * c - re[b] * s;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] = re[a] + tr;
        im[a] = im[a] + ti;
      }
    }
  }
}

template <typename T> struct Work {
  T re[kM];
  T im[kM];
  T power[fe::kNumBins];
};
// Static workspace (not the stack: ESP32 task stacks are small; not the heap). The float and double paths never
// run at the same time. Not reentrant: one AudioProcessor per thread at a time.
union Workspace {
  Work<float> f;
  Work<double> d;
};
Workspace g_work;
inline Work<float>& work(float*) { return g_work.f; }
inline Work<double>& work(double*) { return g_work.d; }

// Log-mel of one frame in precision T, clamped, written as float to out_db.
template <typename T>
void logmel_frame(const int16_t* frame, float* out_db) {
  using Tb = Tables<T>;
  Work<T>& wk = work(static_cast<T*>(nullptr));
  T* re = wk.re;
  T* im = wk.im;
  T* power = wk.power;
  const T scale = static_cast<T>(1.0 / 32768.0);  // exact: int16 -> [-1, 1)
  const T* w = Tb::window();
  // Pack even/odd samples as one complex sequence, in bit-reversed order.
  for (int m = 0; m < kM; ++m) {
    const int r = fe::kBitrev[m];
    re[r] = (static_cast<T>(frame[2 * m]) * scale) * w[2 * m];
    im[r] = (static_cast<T>(frame[2 * m + 1]) * scale) * w[2 * m + 1];
  }
  complex_fft<T>(re, im);
  // Split into the real FFT's bins 0..kM and take the power.
  {
    const T dc = re[0] + im[0], ny = re[0] - im[0];
    power[0] = dc * dc;
    power[kM] = ny * ny;
  }
  for (int k = 1; k < kM; ++k) {
    const int j = kM - k;
    // Ze = (Z[k] + conj(Z[j])) / 2 ; Zo = (Z[k] - conj(Z[j])) / (2i)
    const T er = (re[k] + re[j]) * T(0.5), ei = (im[k] - im[j]) * T(0.5);
    const T orr = (im[k] + im[j]) * T(0.5), oi = (re[j] - re[k]) * T(0.5);
    // X = Ze + W * Zo, W = exp(-2*pi*i*k/N) = c - i*s
    const T c = Tb::rt_cos()[k], s = Tb::rt_sin()[k];
    const T xr = er + (orr * c + oi * s);
    const T xi = ei + (oi * c - orr * s);
    power[k] = xr * xr + xi * xi;
  }
  for (int b = 0; b < fe::kNumMels; ++b) {
    const int s0 = fe::kMelStart[b], cnt = fe::kMelCount[b];
    const float* wb = fe::kMelWeights + fe::kMelOffset[b];
    T acc = 0;
    for (int i = 0; i < cnt; ++i) acc += static_cast<T>(wb[i]) * power[s0 + i];
    if (!(acc > Tb::floor_power())) acc = Tb::floor_power();
    T db = T(10) * tlog10(acc) - Tb::ref_db();
    if (db < Tb::clamp_min()) db = Tb::clamp_min();
    if (db > Tb::clamp_max()) db = Tb::clamp_max();
    out_db[b] = static_cast<float>(db);
  }
}

}  // namespace

bool AudioProcessor::frame_logmel(const int16_t* frame, float* db_out) {
  logmel_frame<float>(frame, db_out);
  float lo = db_out[0], hi = db_out[0];
  for (int b = 1; b < kNumMels; ++b) {
    if (db_out[b] < lo) lo = db_out[b];
    if (db_out[b] > hi) hi = db_out[b];
  }
#ifndef AUDIO_PROCESSOR_FLOAT_ONLY  // (defined only by a host test that measures what the double path buys)
  if (hi - lo > fe::kWideRangeDb) {
    logmel_frame<double>(frame, db_out);
    return true;
  }
#endif
  return false;
}

int8_t AudioProcessor::quantize(float db) {
  // The same float32 operations in the same order as barkbook.runtime.Int8Model.quantize_input (the Python path the
  // device is checked against): floor(dB / scale + 0.5) + zero_point, clipped. (db - clamp_min) / scale would round
  // differently on the few values that sit exactly on a step boundary.
  const float v = floorf(db / fe::kInputScale + 0.5f) + static_cast<float>(fe::kInputZeroPoint);
  return static_cast<int8_t>(v < -128.0f ? -128 : (v > 127.0f ? 127 : static_cast<int>(v)));
}

void AudioProcessor::reset() {
  memset(hist_, 0, sizeof(hist_));
  memset(ring_, 0, sizeof(ring_));
  memset(last_db_, 0, sizeof(last_db_));
  fill_ = 0;
  head_ = 0;
  frames_ = 0;
  wide_frames_ = 0;
}

size_t AudioProcessor::feed(const int16_t* samples, size_t n, bool* frame_done) {
  *frame_done = false;
  size_t take = static_cast<size_t>(kFrameSamples - fill_);
  if (take > n) take = n;
  memcpy(hist_ + fill_, samples, take * sizeof(int16_t));
  fill_ += static_cast<int>(take);
  if (fill_ == kFrameSamples) {
    if (frame_logmel(hist_, last_db_)) ++wide_frames_;
    int8_t* q = ring_ + head_ * kNumMels;
    for (int b = 0; b < kNumMels; ++b) q[b] = quantize(last_db_[b]);
    head_ = (head_ + 1) % kNumFrames;
    ++frames_;
    // Keep the overlap with the next frame.
    memmove(hist_, hist_ + kHop, (kFrameSamples - kHop) * sizeof(int16_t));
    fill_ = kFrameSamples - kHop;
    *frame_done = true;
  }
  return take;
}

bool AudioProcessor::copy_window(int8_t* dst) const {
  if (!window_ready()) return false;
  // head_ is the oldest slot once the ring is full.
  const size_t first = static_cast<size_t>(kNumFrames - head_) * kNumMels;
  memcpy(dst, ring_ + head_ * kNumMels, first);
  memcpy(dst + first, ring_, static_cast<size_t>(head_) * kNumMels);
  return true;
}

size_t AudioProcessor::compute(const int16_t* x, size_t n, float* db, int8_t* q, size_t max_frames) {
  size_t nf = frames_for(n);
  if (nf > max_frames) nf = max_frames;
  float frame_db[kNumMels];
  for (size_t k = 0; k < nf; ++k) {
    frame_logmel(x + k * kHop, frame_db);
    for (int b = 0; b < kNumMels; ++b) {
      if (db) db[k * kNumMels + b] = frame_db[b];
      if (q) q[k * kNumMels + b] = quantize(frame_db[b]);
    }
  }
  return nf;
}
