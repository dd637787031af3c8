// Stand-in for libstdc++'s target ctype_inline.h (see os_defines.h beside it): table look-ups, as newlib's.
#pragma GCC system_header
namespace std _GLIBCXX_VISIBILITY(default) {
_GLIBCXX_BEGIN_NAMESPACE_VERSION
inline bool ctype<char>::is(mask __m, char __c) const { return _M_table[static_cast<unsigned char>(__c)] & __m; }
inline const char* ctype<char>::is(const char* __low, const char* __high, mask* __vec) const {
  while (__low < __high) *__vec++ = _M_table[static_cast<unsigned char>(*__low++)];
  return __high;
}
inline const char* ctype<char>::scan_is(mask __m, const char* __low, const char* __high) const {
  while (__low < __high && !this->is(__m, *__low)) ++__low;
  return __low;
}
inline const char* ctype<char>::scan_not(mask __m, const char* __low, const char* __high) const {
  while (__low < __high && this->is(__m, *__low)) ++__low;
  return __low;
}
_GLIBCXX_END_NAMESPACE_VERSION
}  // namespace std
