// A minimal test harness for the C++ unit tests beside each firmware unit (lib/<unit>/test/*_test.cpp): no
// framework, no heap, C headers only. CHECK counts failures and prints where; a test's main returns
// unit_test_result().
#pragma once
#include <stdio.h>

namespace unit_test {
inline int g_failures = 0;
inline int g_checks = 0;
}  // namespace unit_test

#define CHECK(cond, ...)                                               \
  do {                                                                 \
    ++unit_test::g_checks;                                             \
    if (!(cond)) {                                                     \
      ++unit_test::g_failures;                                         \
      printf("%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);  \
      printf(__VA_ARGS__);                                             \
      printf("\n");                                                    \
    }                                                                  \
  } while (0)

inline int unit_test_result(const char* name) {
  printf("%s: %d checks, %d failed\n", name, unit_test::g_checks, unit_test::g_failures);
  return unit_test::g_failures == 0 ? 0 : 1;
}
