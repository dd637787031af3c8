// Host / bare-metal stand-in for ESP-IDF's esp_timer.h, so esp-tflite-micro's ESP-NN kernel glue (which times each
// conv call with esp_timer_get_time()) builds outside ESP-IDF. The device build uses the real header.
#pragma once
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
int64_t esp_timer_get_time(void);  // microseconds (host: CLOCK_MONOTONIC; bare-metal: 0)
#ifdef __cplusplus
}
#endif
