// Measures the tensor arena the firmware's NeuralNetwork needs for the model in model_settings.h / model.cc:
// prints "status=... arena_used_bytes=N". Built by barkbook.firmware.arena_used_bytes (64-bit and -m32 hosts).
#include <stdio.h>

#include "neural_network.h"

int main() {
  static NeuralNetwork nn;
  const NNStatus s = nn.initialize();
  printf("status=%s arena_used_bytes=%zu arena_size=%zu\n", nn_status_to_string(s), nn.arena_used_bytes(),
         NeuralNetwork::arena_size());
  return s == NNStatus::kOk ? 0 : 3;
}
