// The example's microphone: an INMP441 I2S MEMS microphone on an ESP32 (ESP-IDF 5 standard-mode I2S driver, as in
// arduino-esp32 core >= 3.0). The pins are those of barkbook's firmware board layer (ESP32 DevKitC).
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifndef MIC_I2S_BCLK_GPIO
#define MIC_I2S_BCLK_GPIO 26  // INMP441 SCK
#endif
#ifndef MIC_I2S_WS_GPIO
#define MIC_I2S_WS_GPIO 25    // INMP441 WS
#endif
#ifndef MIC_I2S_DIN_GPIO
#define MIC_I2S_DIN_GPIO 33   // INMP441 SD
#endif
#ifndef MIC_GAIN_BITS
#define MIC_GAIN_BITS 2       // +12 dB: int16 = raw32 >> (16 - MIC_GAIN_BITS), saturated (see i2s_to_int16)
#endif

// Start the microphone at 16 kHz (left slot: L/R tied to GND). Returns false on failure.
bool mic_begin();
// Block until n samples (16 kHz mono int16) are read into out[n]; returns how many (0: the input failed or ended).
size_t mic_read(int16_t* out, size_t n);
