// Bare-metal runtime for running firmware code on the lx106 core of qemu-system-xtensa (-M sim -semihosting):
// semihosting exit/write through SIMCALL, the CCOUNT cycle register, and the libgcc helpers Debian's lx106 libgcc
// lacks (the ESP8266 has them in ROM): 32/64-bit integer division, 64-bit multiply, and IEEE soft-float built on
// Berkeley SoftFloat 3 (round to nearest even, as libgcc). Used by barkbook.firmware.qemu_counts (make bench) only.
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "softfloat.h"

// qemu's sim machine starts the lx106 at its reset vector (0x50000000, system ROM), not at the ELF entry: a stub
// there sets the stack pointer (picolibc's _start expects one) and jumps to _start (the linker script places
// .sim_reset at that address).
__asm__(".section .sim_reset, \"ax\"\n"
        ".global _sim_reset\n"
        "_sim_reset:\n"
        "  j 1f\n"
        "  .align 4\n"
        "2: .word _start\n"
        "3: .word __stack\n"
        "1: l32r a1, 3b\n"
        "  l32r a2, 2b\n"
        "  jx a2\n"
        ".text\n");

static inline long simcall(long nr, long a, long b, long c) {
  register long a2 __asm__("a2") = nr;
  register long a3 __asm__("a3") = a;
  register long a4 __asm__("a4") = b;
  register long a5 __asm__("a5") = c;
  __asm__ __volatile__("simcall" : "+r"(a2) : "r"(a3), "r"(a4), "r"(a5) : "memory");
  return a2;
}
void _exit(int code) {
  for (;;) simcall(1, code, 0, 0);  // SYS_exit
}
long sim_write(int fd, const void* p, size_t n) { return simcall(4, fd, (long)p, (long)n); }  // SYS_write
uint32_t sim_ccount(void) {
  uint32_t c;
  __asm__ __volatile__("rsr.ccount %0" : "=a"(c));
  return c;
}

// ---- integer helpers (shift-subtract; no '/' or '%' inside, which would call these very functions) ----
static uint32_t udivmod32(uint32_t n, uint32_t d, uint32_t* rem) {
  uint32_t q = 0, r = 0;
  if (d == 0) { *rem = n; return 0xffffffffu; }
  for (int i = 31; i >= 0; --i) {
    r = (r << 1) | ((n >> i) & 1u);
    if (r >= d) { r -= d; q |= 1u << i; }
  }
  *rem = r;
  return q;
}
static uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t* rem) {
  uint64_t q = 0, r = 0;
  if (d == 0) { *rem = n; return ~0ull; }
  for (int i = 63; i >= 0; --i) {
    r = (r << 1) | ((n >> i) & 1u);
    if (r >= d) { r -= d; q |= 1ull << i; }
  }
  *rem = r;
  return q;
}
uint32_t __udivsi3(uint32_t n, uint32_t d) { uint32_t r; return udivmod32(n, d, &r); }
uint32_t __umodsi3(uint32_t n, uint32_t d) { uint32_t r; udivmod32(n, d, &r); return r; }
int32_t __divsi3(int32_t a, int32_t b) {
  uint32_t r, q = udivmod32(a < 0 ? -(uint32_t)a : (uint32_t)a, b < 0 ? -(uint32_t)b : (uint32_t)b, &r);
  return (a < 0) != (b < 0) ? -(int32_t)q : (int32_t)q;
}
int32_t __modsi3(int32_t a, int32_t b) {
  uint32_t r;
  udivmod32(a < 0 ? -(uint32_t)a : (uint32_t)a, b < 0 ? -(uint32_t)b : (uint32_t)b, &r);
  return a < 0 ? -(int32_t)r : (int32_t)r;
}
uint64_t __udivdi3(uint64_t n, uint64_t d) { uint64_t r; return udivmod64(n, d, &r); }
uint64_t __umoddi3(uint64_t n, uint64_t d) { uint64_t r; udivmod64(n, d, &r); return r; }
int64_t __divdi3(int64_t a, int64_t b) {
  uint64_t r, q = udivmod64(a < 0 ? -(uint64_t)a : (uint64_t)a, b < 0 ? -(uint64_t)b : (uint64_t)b, &r);
  return (a < 0) != (b < 0) ? -(int64_t)q : (int64_t)q;
}
int64_t __moddi3(int64_t a, int64_t b) {
  uint64_t r;
  udivmod64(a < 0 ? -(uint64_t)a : (uint64_t)a, b < 0 ? -(uint64_t)b : (uint64_t)b, &r);
  return a < 0 ? -(int64_t)r : (int64_t)r;
}
int64_t __muldi3(int64_t a, int64_t b) {  // low 64 bits of the product, from 16-bit partial products
  const uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
  const uint32_t al = (uint32_t)ua, ah = (uint32_t)(ua >> 32), bl = (uint32_t)ub, bh = (uint32_t)(ub >> 32);
  const uint32_t a0 = al & 0xffffu, a1 = al >> 16, b0 = bl & 0xffffu, b1 = bl >> 16;
  const uint32_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const uint32_t mid = (p00 >> 16) + (p01 & 0xffffu) + (p10 & 0xffffu);
  const uint32_t lo = (p00 & 0xffffu) | (mid << 16);
  const uint32_t hi = p11 + (p01 >> 16) + (p10 >> 16) + (mid >> 16) + al * bh + ah * bl;
  return (int64_t)(((uint64_t)hi << 32) | lo);
}

// ---- soft-float (libgcc names) on SoftFloat ----
typedef union { float f; float32_t s; uint32_t u; } F32;
typedef union { double f; float64_t s; uint64_t u; } F64;
static float32_t s32(float x) { F32 v; v.f = x; return v.s; }
static float f32(float32_t x) { F32 v; v.s = x; return v.f; }
static float64_t s64(double x) { F64 v; v.f = x; return v.s; }
static double f64(float64_t x) { F64 v; v.s = x; return v.f; }
static bool nan32(float x) { F32 v; v.f = x; return (v.u & 0x7fffffffu) > 0x7f800000u; }
static bool nan64(double x) { F64 v; v.f = x; return (v.u & 0x7fffffffffffffffull) > 0x7ff0000000000000ull; }

float __addsf3(float a, float b) { return f32(f32_add(s32(a), s32(b))); }
float __subsf3(float a, float b) { return f32(f32_sub(s32(a), s32(b))); }
float __mulsf3(float a, float b) { return f32(f32_mul(s32(a), s32(b))); }
float __divsf3(float a, float b) { return f32(f32_div(s32(a), s32(b))); }
float __negsf2(float a) { F32 v; v.f = a; v.u ^= 0x80000000u; return v.f; }
int __unordsf2(float a, float b) { return nan32(a) || nan32(b); }
int __eqsf2(float a, float b) { return f32_eq(s32(a), s32(b)) ? 0 : 1; }
int __nesf2(float a, float b) { return f32_eq(s32(a), s32(b)) ? 0 : 1; }
int __ltsf2(float a, float b) { return f32_lt(s32(a), s32(b)) ? -1 : (f32_eq(s32(a), s32(b)) ? 0 : 1); }
int __lesf2(float a, float b) { return f32_le(s32(a), s32(b)) ? (f32_eq(s32(a), s32(b)) ? 0 : -1) : 1; }
int __gtsf2(float a, float b) { return f32_lt(s32(b), s32(a)) ? 1 : (f32_eq(s32(a), s32(b)) ? 0 : -1); }
int __gesf2(float a, float b) { return f32_le(s32(b), s32(a)) ? (f32_eq(s32(a), s32(b)) ? 0 : 1) : -1; }
int32_t __fixsfsi(float a) { return f32_to_i32_r_minMag(s32(a), false); }
uint32_t __fixunssfsi(float a) { return f32_to_ui32_r_minMag(s32(a), false); }
int64_t __fixsfdi(float a) { return f32_to_i64_r_minMag(s32(a), false); }
uint64_t __fixunssfdi(float a) { return f32_to_ui64_r_minMag(s32(a), false); }
float __floatsisf(int32_t a) { return f32(i32_to_f32(a)); }
float __floatunsisf(uint32_t a) { return f32(ui32_to_f32(a)); }
float __floatdisf(int64_t a) { return f32(i64_to_f32(a)); }
float __floatundisf(uint64_t a) { return f32(ui64_to_f32(a)); }
double __extendsfdf2(float a) { return f64(f32_to_f64(s32(a))); }
float __truncdfsf2(double a) { return f32(f64_to_f32(s64(a))); }

double __adddf3(double a, double b) { return f64(f64_add(s64(a), s64(b))); }
double __subdf3(double a, double b) { return f64(f64_sub(s64(a), s64(b))); }
double __muldf3(double a, double b) { return f64(f64_mul(s64(a), s64(b))); }
double __divdf3(double a, double b) { return f64(f64_div(s64(a), s64(b))); }
double __negdf2(double a) { F64 v; v.f = a; v.u ^= 0x8000000000000000ull; return v.f; }
int __unorddf2(double a, double b) { return nan64(a) || nan64(b); }
int __eqdf2(double a, double b) { return f64_eq(s64(a), s64(b)) ? 0 : 1; }
int __nedf2(double a, double b) { return f64_eq(s64(a), s64(b)) ? 0 : 1; }
int __ltdf2(double a, double b) { return f64_lt(s64(a), s64(b)) ? -1 : (f64_eq(s64(a), s64(b)) ? 0 : 1); }
int __ledf2(double a, double b) { return f64_le(s64(a), s64(b)) ? (f64_eq(s64(a), s64(b)) ? 0 : -1) : 1; }
int __gtdf2(double a, double b) { return f64_lt(s64(b), s64(a)) ? 1 : (f64_eq(s64(a), s64(b)) ? 0 : -1); }
int __gedf2(double a, double b) { return f64_le(s64(b), s64(a)) ? (f64_eq(s64(a), s64(b)) ? 0 : 1) : -1; }
int32_t __fixdfsi(double a) { return f64_to_i32_r_minMag(s64(a), false); }
uint32_t __fixunsdfsi(double a) { return f64_to_ui32_r_minMag(s64(a), false); }
int64_t __fixdfdi(double a) { return f64_to_i64_r_minMag(s64(a), false); }
uint64_t __fixunsdfdi(double a) { return f64_to_ui64_r_minMag(s64(a), false); }
double __floatsidf(int32_t a) { return f64(i32_to_f64(a)); }
double __floatunsidf(uint32_t a) { return f64(ui32_to_f64(a)); }
double __floatdidf(int64_t a) { return f64(i64_to_f64(a)); }
double __floatundidf(uint64_t a) { return f64(ui64_to_f64(a)); }

// ---- what the C++ code and picolibc expect from an OS: one thread, abort() exits ----
int __cxa_guard_acquire(uint64_t* guard) { return *(volatile uint8_t*)guard == 0; }   // function-local statics
void __cxa_guard_release(uint64_t* guard) { *(volatile uint8_t*)guard = 1; }
void __cxa_guard_abort(uint64_t* guard) { (void)guard; }
void __cxa_pure_virtual(void) { _exit(134); }
int getpid(void) { return 1; }
int kill(int pid, int sig) { (void)pid; _exit(128 + sig); }
