"""The device-only code, checked for the ESP32 without a board: the board layer (src/) compiled against the ESP-IDF
5.3.1 headers with a test-supplied sdkconfig.h, and the whole firmware (TFLite Micro + ESP-NN + model + barkbook's
code) cross-compiled for an Xtensa core with its code and data sizes. Skipped, with the reason, when the ESP-IDF or
TFLM sources, the Xtensa toolchain or newlib's headers are absent (.ci/run installs the Debian packages)."""
import shutil
from pathlib import Path
import pytest

from barkbook import firmware as fwm

FW = fwm.default_firmware_dir()


def report(line):
    print(f"\nDEVICE {line}")


def _need_board_check():
    reason = fwm.missing_tree("idf")
    if reason: pytest.skip(f"ESP-IDF headers not available: {reason}")
    if fwm.xtensa_toolchain() is None: pytest.skip("xtensa-lx106-elf-g++ not installed (apt-get install gcc-xtensa-lx106)")
    if not Path("/usr/include/newlib/sys/reent.h").exists(): pytest.skip("newlib headers not installed (apt-get install libnewlib-dev)")


def test_board_layer_compiles_against_esp_idf():
    "board_esp32.cpp and main.cpp (normal and calibration builds) compile against ESP-IDF 5.3.1 with the strict flags."
    _need_board_check()
    done = fwm.check_board_layer()
    assert done == ["src/board_esp32.cpp", "src/main.cpp", "src/main.cpp -DBARKBOOK_CALIBRATION=1"]
    report("board layer: " + ", ".join(done) + " compile against ESP-IDF 5.3.1 (esp32, -Wall -Wextra -Werror)")


@pytest.mark.parametrize("good, mistake, message", [
    ("&bytes, portMAX_DELAY)", "&bytes)", "too few arguments to function"),           # i2s_channel_read without timeout
    ("I2S_STD_SLOT_LEFT;", "I2S_STD_SLOT_ONLY_LEFT;", "was not declared in this scope"),  # a name ESP-IDF 5.3 lacks
])
def test_board_layer_check_catches_api_mistakes(tmp_path, good, mistake, message):
    "A wrong ESP-IDF call in the board layer fails the check with the compiler's message (the check can fail)."
    _need_board_check()
    bad = fwm.stage_firmware(tmp_path / "fw")
    shutil.copytree(FW / "src", bad / "src")
    src = (bad / "src" / "board_esp32.cpp").read_text()
    assert good in src
    (bad / "src" / "board_esp32.cpp").write_text(src.replace(good, mistake, 1))
    with pytest.raises(fwm.FirmwareError, match=message):
        fwm.check_board_layer(bad)


def test_sdkconfig_is_required(tmp_path):
    _need_board_check()
    with pytest.raises(fwm.FirmwareError, match="sdkconfig.h: not found"):
        fwm.check_board_layer(sdkconfig_dir=tmp_path)


def test_xtensa_sizes_of_the_whole_firmware(tmp_path):
    "TFLM + ESP-NN + model + glue + front-end + detector cross-compile for lx106; sizes per part are plausible."
    reason = fwm.missing_tree("tflm", "esp_nn")
    if reason: pytest.skip(f"TFLite Micro sources not available: {reason}")
    if fwm.xtensa_toolchain() is None: pytest.skip("xtensa-lx106-elf-g++ not installed (apt-get install gcc-xtensa-lx106)")
    sizes = fwm.xtensa_tflm_sizes(fwm.cache_dir() / "xtensa", "esp_nn").set_index("part")   # objects cached by content
    print("\n" + sizes.to_string())
    model = fwm.read_firmware(FW)["model"]
    assert sizes.loc["model (model.cc)", "rodata"] >= len(model)
    assert sizes.loc["TFLM core", "text"] > 10_000 and sizes.loc["ESP-NN (C kernels)", "text"] > 0
    total = sizes.loc["total"]
    report(f"xtensa-lx106 -O2, ESP-NN: text {total.text:,} B, rodata {total.rodata:,} B, data {total.data:,} B, "
           f"bss {total.bss:,} B (bss includes the {fwm.read_firmware(FW)['arena_bytes']:,}-B tensor arena)")
    assert total.bss >= fwm.read_firmware(FW)["arena_bytes"]
