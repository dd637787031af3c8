// Host driver for the BarkDetector example (tests/test_arduino.py): the Arduino core's main loop, with the example's
// microphone.cpp replaced by a 16 kHz mono 16-bit WAV file. Usage: arduino_host FILE.wav
#include <stdio.h>
#include <string.h>

#include "Arduino.h"
#include "microphone.h"

void setup();
void loop();

HostSerial Serial;
static FILE* g_wav = nullptr;
static uint32_t g_left = 0;       // data bytes not read yet
static uint64_t g_samples = 0;    // samples delivered so far
static int g_led = LOW;

unsigned long millis() { return static_cast<unsigned long>(g_samples / 16); }
void delay(unsigned long) {}
void pinMode(int, int) {}
void digitalWrite(int, int value) { g_led = value; }

static uint32_t le32(const unsigned char* b) { return b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24); }
static uint16_t le16(const unsigned char* b) { return static_cast<uint16_t>(b[0] | (b[1] << 8)); }

// Open the WAV (RIFF, PCM, 1 channel, 16 kHz, 16 bit) and position at its data.
static bool open_wav(const char* path) {
  g_wav = fopen(path, "rb");
  unsigned char h[12], c[8], fmt[16];
  if (!g_wav || fread(h, 1, 12, g_wav) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) return false;
  bool have_fmt = false;
  while (fread(c, 1, 8, g_wav) == 8) {
    const uint32_t size = le32(c + 4);
    if (!memcmp(c, "fmt ", 4) && size >= 16) {
      if (fread(fmt, 1, 16, g_wav) != 16 || fseek(g_wav, size - 16 + (size & 1), SEEK_CUR)) return false;
      have_fmt = le16(fmt) == 1 && le16(fmt + 2) == 1 && le32(fmt + 4) == 16000 && le16(fmt + 14) == 16;
      if (!have_fmt) return false;
    } else if (!memcmp(c, "data", 4)) {
      g_left = size;
      return have_fmt;
    } else if (fseek(g_wav, size + (size & 1), SEEK_CUR)) {
      return false;
    }
  }
  return false;
}

bool mic_begin() { return g_wav != nullptr; }

size_t mic_read(int16_t* out, size_t n) {
  unsigned char b[2];
  size_t got = 0;
  while (got < n && g_left >= 2 && fread(b, 1, 2, g_wav) == 2) {
    out[got++] = static_cast<int16_t>(le16(b));
    g_left -= 2;
  }
  g_samples += got;
  return got;
}

int main(int argc, char** argv) {
  if (argc != 2 || !open_wav(argv[1])) {
    fprintf(stderr, "usage: arduino_host FILE.wav (16 kHz mono 16-bit PCM)\n");
    return 2;
  }
  setup();
  for (int idle = 0; g_left >= 2 && idle < 100;) {  // loop() as the core calls it, until the input is used up
    const uint64_t before = g_samples;
    loop();
    idle = g_samples == before ? idle + 1 : 0;      // a sketch that stopped reading (setup failed) ends the run
  }
  printf("host: end of input after %llu samples, led %d\n", static_cast<unsigned long long>(g_samples), g_led);
  fclose(g_wav);
  return 0;
}
