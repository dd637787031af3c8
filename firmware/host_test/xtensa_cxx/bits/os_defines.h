// Stand-in for libstdc++'s target os_defines.h when the x86-64 libstdc++ headers are used with Debian's
// xtensa-lx106-elf-g++ (which ships no C++ standard headers) over picolibc: a bare-metal newlib-like OS.
// Used only for the Xtensa size and instruction-count builds of TFLite Micro (barkbook.firmware).
#ifndef _GLIBCXX_OS_DEFINES
#define _GLIBCXX_OS_DEFINES 1
#define __NO_CTYPE 1
#endif
