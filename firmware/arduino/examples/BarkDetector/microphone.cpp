// INMP441 on I2S with the ESP-IDF 5 standard-mode driver (arduino-esp32 core >= 3.0 ships ESP-IDF 5).
#include "microphone.h"

#include <audio_input.h>  // i2s_to_int16 (barkbook library)

#include "driver/i2s_std.h"
#include "freertos/FreeRTOS.h"

namespace {
i2s_chan_handle_t g_rx = nullptr;
int32_t g_raw[320];  // one 20 ms front-end hop of 32-bit I2S words
}  // namespace

bool mic_begin() {
  i2s_chan_config_t chan = I2S_CHANNEL_DEFAULT_CONFIG(I2S_NUM_0, I2S_ROLE_MASTER);
  chan.dma_desc_num = 8;     // 8 x 320 frames = 160 ms of DMA buffering
  chan.dma_frame_num = 320;
  if (i2s_new_channel(&chan, nullptr, &g_rx) != ESP_OK) return false;
  i2s_std_config_t std = {};
  std.clk_cfg = I2S_STD_CLK_DEFAULT_CONFIG(16000);
  // INMP441: 24-bit data, MSB first, one BCLK after WS (Philips), in 32-bit slots; L/R to GND = left slot.
  std.slot_cfg = I2S_STD_PHILIPS_SLOT_DEFAULT_CONFIG(I2S_DATA_BIT_WIDTH_32BIT, I2S_SLOT_MODE_MONO);
  std.slot_cfg.slot_mask = I2S_STD_SLOT_LEFT;
  std.gpio_cfg.mclk = I2S_GPIO_UNUSED;
  std.gpio_cfg.bclk = static_cast<gpio_num_t>(MIC_I2S_BCLK_GPIO);
  std.gpio_cfg.ws = static_cast<gpio_num_t>(MIC_I2S_WS_GPIO);
  std.gpio_cfg.dout = I2S_GPIO_UNUSED;
  std.gpio_cfg.din = static_cast<gpio_num_t>(MIC_I2S_DIN_GPIO);
  if (i2s_channel_init_std_mode(g_rx, &std) != ESP_OK) return false;
  return i2s_channel_enable(g_rx) == ESP_OK;
}

size_t mic_read(int16_t* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    const size_t want = (n - done) < 320 ? (n - done) : 320;
    size_t bytes = 0;
    if (i2s_channel_read(g_rx, g_raw, want * sizeof(int32_t), &bytes, portMAX_DELAY) != ESP_OK) break;
    const size_t got = bytes / sizeof(int32_t);
    i2s_to_int16(g_raw, out + done, got, MIC_GAIN_BITS);
    done += got;
  }
  return done;
}
