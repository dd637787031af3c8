// Heap use counted on the host (glibc: the real allocator stays underneath). The firmware's loop must allocate
// nothing, like the device's; host_driver (built with COUNT_ALLOC) and monitor_host read g_allocs around it.
// Include from exactly one translation unit of a program: it replaces malloc/new for the whole program.
#pragma once
#include <stddef.h>
#include <stdlib.h>
#include <new>

extern "C" void* __libc_malloc(size_t);
extern "C" void* __libc_calloc(size_t, size_t);
extern "C" void* __libc_realloc(void*, size_t);
extern "C" void __libc_free(void*);
static volatile size_t g_allocs = 0;
extern "C" void* malloc(size_t n) { ++g_allocs; return __libc_malloc(n); }
extern "C" void* calloc(size_t a, size_t b) { ++g_allocs; return __libc_calloc(a, b); }
extern "C" void* realloc(void* p, size_t n) { ++g_allocs; return __libc_realloc(p, n); }
extern "C" void free(void* p) { __libc_free(p); }
void* operator new(size_t n) { ++g_allocs; void* p = __libc_malloc(n ? n : 1); if (!p) abort(); return p; }
void* operator new[](size_t n) { ++g_allocs; void* p = __libc_malloc(n ? n : 1); if (!p) abort(); return p; }
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, size_t) noexcept { __libc_free(p); }
