// Host stand-in for the top header of the TensorFlowLite_ESP32 Arduino library, which is empty as well: the test
// compiles against the esp-tflite-micro tree instead (tests/test_arduino.py).
#pragma once
