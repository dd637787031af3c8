// Microphone input helpers shared by the board layer and the host tests (portable C++17, header-only, no heap):
// INMP441 32-bit I2S words to int16 with a documented gain, input level in dBFS, and a lock-free
// single-producer/single-consumer sample ring between the I2S task and the detector task.
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// The INMP441 sends 24-bit two's-complement samples left-justified in 32-bit I2S slots (bits 31..8; the low byte
// is 0). raw >> 16 keeps the top 16 bits: 0 dB gain, 24-bit full scale = int16 full scale. Each extra gain bit
// shifts one bit less (+6.02 dB) and saturates at full scale:
//   int16 = clamp(raw >> (16 - gain_bits), -32768, 32767),   gain_bits in 0..8.
inline int16_t i2s_to_int16(int32_t raw, int gain_bits) {
  if (gain_bits < 0) gain_bits = 0;
  if (gain_bits > 8) gain_bits = 8;
  const int32_t v = raw >> (16 - gain_bits);  // arithmetic shift (C++20 guarantees it; GCC always does it)
  return static_cast<int16_t>(v > 32767 ? 32767 : (v < -32768 ? -32768 : v));
}

inline void i2s_to_int16(const int32_t* raw, int16_t* out, size_t n, int gain_bits) {
  for (size_t i = 0; i < n; ++i) out[i] = i2s_to_int16(raw[i], gain_bits);
}

// RMS level in dBFS (a full-scale sine reads 0 dBFS), never below floor_db: barkbook.audio.rms_dbfs.
inline double rms_dbfs(const int16_t* x, size_t n, double floor_db = -120.0) {
  uint64_t ss = 0;
  for (size_t i = 0; i < n; ++i) ss += static_cast<uint64_t>(static_cast<int64_t>(x[i]) * x[i]);
  double ms = n ? static_cast<double>(ss) / static_cast<double>(n) / (32768.0 * 32768.0) * 2.0 : 0.0;
  if (ms < 1e-30) ms = 1e-30;
  const double db = 10.0 * log10(ms);
  return db < floor_db ? floor_db : db;
}

// Peak level in dBFS (full scale = 0 dBFS), never below floor_db: barkbook.audio.peak_dbfs.
inline double peak_dbfs(const int16_t* x, size_t n, double floor_db = -120.0) {
  int32_t p = 0;
  for (size_t i = 0; i < n; ++i) {
    const int32_t a = x[i] < 0 ? -static_cast<int32_t>(x[i]) : x[i];
    if (a > p) p = a;
  }
  double v = static_cast<double>(p) / 32768.0;
  if (v < 1e-30) v = 1e-30;
  const double db = 20.0 * log10(v);
  return db < floor_db ? floor_db : db;
}

// Lock-free ring of int16 samples for one producer (I2S task) and one consumer (detector task). Capacity is a power
// of two; when the consumer falls behind, new samples are dropped and counted (the detector never sees a torn
// window). Uses GCC atomic builtins, so it needs no <atomic> (absent from the Xtensa picolibc build).
template <size_t kCapacity>
class SampleRing {
  static_assert(kCapacity >= 2 && (kCapacity & (kCapacity - 1)) == 0, "capacity must be a power of two");

 public:
  // Producer: append up to n samples; returns how many were stored (the rest are counted as dropped).
  size_t write(const int16_t* x, size_t n) {
    const size_t head = __atomic_load_n(&head_, __ATOMIC_RELAXED);
    const size_t tail = __atomic_load_n(&tail_, __ATOMIC_ACQUIRE);
    const size_t space = kCapacity - (head - tail);
    const size_t k = n < space ? n : space;
    for (size_t i = 0; i < k; ++i) buf_[(head + i) & (kCapacity - 1)] = x[i];
    __atomic_store_n(&head_, head + k, __ATOMIC_RELEASE);
    if (k < n) __atomic_add_fetch(&dropped_, n - k, __ATOMIC_RELAXED);
    return k;
  }
  // Consumer: take up to n samples into out; returns how many.
  size_t read(int16_t* out, size_t n) {
    const size_t tail = __atomic_load_n(&tail_, __ATOMIC_RELAXED);
    const size_t head = __atomic_load_n(&head_, __ATOMIC_ACQUIRE);
    const size_t avail = head - tail;
    const size_t k = n < avail ? n : avail;
    for (size_t i = 0; i < k; ++i) out[i] = buf_[(tail + i) & (kCapacity - 1)];
    __atomic_store_n(&tail_, tail + k, __ATOMIC_RELEASE);
    return k;
  }
  size_t available() const { return __atomic_load_n(&head_, __ATOMIC_ACQUIRE) - __atomic_load_n(&tail_, __ATOMIC_ACQUIRE); }
  size_t dropped() const { return __atomic_load_n(&dropped_, __ATOMIC_RELAXED); }
  static constexpr size_t capacity() { return kCapacity; }

 private:
  int16_t buf_[kCapacity] = {};
  size_t head_ = 0;     // total samples written
  size_t tail_ = 0;     // total samples read
  size_t dropped_ = 0;
};
