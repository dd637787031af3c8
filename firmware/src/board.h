// The thin board layer: everything main.cpp needs from the hardware. board_esp32.cpp implements it with ESP-IDF
// for an ESP32 dev board (esp32dev) and an INMP441 I2S microphone; port it to another board by rewriting that file.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Pins (ESP32 DevKitC / esp32dev). Override with -D in platformio.ini build_flags.
#ifndef BOARD_I2S_BCLK_GPIO
#define BOARD_I2S_BCLK_GPIO 26  // INMP441 SCK
#endif
#ifndef BOARD_I2S_WS_GPIO
#define BOARD_I2S_WS_GPIO 25    // INMP441 WS
#endif
#ifndef BOARD_I2S_DIN_GPIO
#define BOARD_I2S_DIN_GPIO 33   // INMP441 SD
#endif
#ifndef BOARD_LED_GPIO
#define BOARD_LED_GPIO 2        // on-board LED
#endif
#ifndef BOARD_BUTTON_GPIO
#define BOARD_BUTTON_GPIO 0     // BOOT button (held at reset: calibration mode)
#endif

// Start the I2S microphone at 16 kHz (left slot, 32-bit words), the LED and the button. Returns false on failure.
bool board_init();
// Block until n raw 32-bit I2S words are read into raw[n]. Returns the number read (n unless the driver failed).
size_t board_read_mic(int32_t* raw, size_t n);
void board_led(bool on);
bool board_button_pressed();
uint64_t board_micros();
void board_delay_ms(uint32_t ms);
// The serial console (the protocol of lib/serial_protocol): up to max bytes received so far, without waiting;
// write n bytes (waits until the driver has taken them); the console's baud rate.
size_t board_serial_read(char* buf, size_t max);
void board_serial_write(const char* data, size_t n);
uint32_t board_serial_baud();
// Run fn(arg) as a task pinned to core `core` with the given priority and stack size.
bool board_start_task(void (*fn)(void*), void* arg, const char* name, uint32_t stack_bytes, int priority, int core);
