// Stand-in (see os_defines.h): no threads on the bare-metal Xtensa builds.
#include <bits/gthr-single.h>
