// Stand-in for libstdc++'s cpu_defines.h (see os_defines.h beside it).
#ifndef _GLIBCXX_CPU_DEFINES
#define _GLIBCXX_CPU_DEFINES 1
#endif
