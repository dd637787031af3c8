// Stand-in for libstdc++'s target ctype_base.h (see os_defines.h beside it). The mask values are barkbook's own:
// nothing in the firmware classifies characters; <string>/<sstream> only need the names to exist.
#pragma GCC system_header
namespace std _GLIBCXX_VISIBILITY(default) {
_GLIBCXX_BEGIN_NAMESPACE_VERSION
struct ctype_base {
  typedef const int* __to_type;
  typedef unsigned short mask;
  static const mask upper = 1 << 0;
  static const mask lower = 1 << 1;
  static const mask alpha = upper | lower;
  static const mask digit = 1 << 2;
  static const mask xdigit = 1 << 3;
  static const mask space = 1 << 4;
  static const mask print = 1 << 5;
  static const mask graph = alpha | digit | (1 << 6);
  static const mask cntrl = 1 << 7;
  static const mask punct = 1 << 6;
  static const mask alnum = alpha | digit;
  static const mask blank = 1 << 8;
};
_GLIBCXX_END_NAMESPACE_VERSION
}  // namespace std
