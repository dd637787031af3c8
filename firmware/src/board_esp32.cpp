// ESP-IDF (>= 5.1) implementation of board.h: I2S standard-mode RX for an INMP441, GPIO LED and button, esp_timer.
#include "board.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "driver/gpio.h"
#include "driver/i2s_std.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "sdkconfig.h"

namespace {
i2s_chan_handle_t g_rx = nullptr;
constexpr uint32_t kSampleRate = 16000;
}  // namespace

bool board_init() {
  i2s_chan_config_t chan = I2S_CHANNEL_DEFAULT_CONFIG(I2S_NUM_0, I2S_ROLE_MASTER);
  chan.dma_desc_num = 8;     // 8 x 320 frames = 160 ms of DMA buffering
  chan.dma_frame_num = 320;  // one feature hop per DMA buffer
  if (i2s_new_channel(&chan, nullptr, &g_rx) != ESP_OK) return false;

  i2s_std_config_t std = {};
  std.clk_cfg = I2S_STD_CLK_DEFAULT_CONFIG(kSampleRate);
  // INMP441: 24-bit data, MSB first, one BCLK after WS (Philips), in 32-bit slots; L/R pin to GND = left slot.
  std.slot_cfg = I2S_STD_PHILIPS_SLOT_DEFAULT_CONFIG(I2S_DATA_BIT_WIDTH_32BIT, I2S_SLOT_MODE_MONO);
#ifdef BOARD_I2S_SLOT_RIGHT
  std.slot_cfg.slot_mask = I2S_STD_SLOT_RIGHT;  // L/R tied to 3V3, or boards that report the slots swapped
#else
  std.slot_cfg.slot_mask = I2S_STD_SLOT_LEFT;
#endif
  std.gpio_cfg.mclk = I2S_GPIO_UNUSED;
  std.gpio_cfg.bclk = static_cast<gpio_num_t>(BOARD_I2S_BCLK_GPIO);
  std.gpio_cfg.ws = static_cast<gpio_num_t>(BOARD_I2S_WS_GPIO);
  std.gpio_cfg.dout = I2S_GPIO_UNUSED;
  std.gpio_cfg.din = static_cast<gpio_num_t>(BOARD_I2S_DIN_GPIO);
  if (i2s_channel_init_std_mode(g_rx, &std) != ESP_OK) return false;
  if (i2s_channel_enable(g_rx) != ESP_OK) return false;

  gpio_reset_pin(static_cast<gpio_num_t>(BOARD_LED_GPIO));
  gpio_set_direction(static_cast<gpio_num_t>(BOARD_LED_GPIO), GPIO_MODE_OUTPUT);
  gpio_set_level(static_cast<gpio_num_t>(BOARD_LED_GPIO), 0);
  gpio_reset_pin(static_cast<gpio_num_t>(BOARD_BUTTON_GPIO));
  gpio_set_direction(static_cast<gpio_num_t>(BOARD_BUTTON_GPIO), GPIO_MODE_INPUT);
  gpio_set_pull_mode(static_cast<gpio_num_t>(BOARD_BUTTON_GPIO), GPIO_PULLUP_ONLY);
  // The console UART without its driver: reads return what the RX FIFO holds (non-blocking), writes wait for the FIFO.
  fcntl(STDIN_FILENO, F_SETFL, O_NONBLOCK);
  return true;
}

size_t board_read_mic(int32_t* raw, size_t n) {
  size_t got = 0;
  while (got < n) {
    size_t bytes = 0;
    if (i2s_channel_read(g_rx, raw + got, (n - got) * sizeof(int32_t), &bytes, portMAX_DELAY) != ESP_OK) break;
    got += bytes / sizeof(int32_t);
  }
  return got;
}

void board_led(bool on) { gpio_set_level(static_cast<gpio_num_t>(BOARD_LED_GPIO), on ? 1 : 0); }

bool board_button_pressed() { return gpio_get_level(static_cast<gpio_num_t>(BOARD_BUTTON_GPIO)) == 0; }

uint64_t board_micros() { return static_cast<uint64_t>(esp_timer_get_time()); }

void board_delay_ms(uint32_t ms) { vTaskDelay(pdMS_TO_TICKS(ms)); }

bool board_start_task(void (*fn)(void*), void* arg, const char* name, uint32_t stack_bytes, int priority, int core) {
  return xTaskCreatePinnedToCore(fn, name, stack_bytes, arg, priority, nullptr, core) == pdPASS;
}

size_t board_serial_read(char* buf, size_t max) {
  const ssize_t n = read(STDIN_FILENO, buf, max);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

void board_serial_write(const char* data, size_t n) {
  fwrite(data, 1, n, stdout);
  fflush(stdout);
}

uint32_t board_serial_baud() { return CONFIG_ESP_CONSOLE_UART_BAUDRATE; }
