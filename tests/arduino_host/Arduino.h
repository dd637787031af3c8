// Host stand-in for the Arduino core, for tests/test_arduino.py only: what the BarkDetector example uses.
// Serial.printf prints to stdout; millis() is audio time (samples the host microphone delivered / 16).
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HIGH 1
#define LOW 0
#define OUTPUT 1

struct HostSerial {
  void begin(unsigned long) {}
  int printf(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    va_list ap;
    va_start(ap, fmt);
    const int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
  }
  void println(const char* s) { puts(s); }
};
extern HostSerial Serial;

unsigned long millis();
void delay(unsigned long ms);
void pinMode(int pin, int mode);
void digitalWrite(int pin, int value);
