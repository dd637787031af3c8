// The esp_timer_get_time() of shims/esp_timer.h for host and bare-metal builds.
#include "esp_timer.h"
#if defined(__linux__)
#include <time.h>
int64_t esp_timer_get_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
#else
int64_t esp_timer_get_time(void) { return 0; }
#endif
