// The replaceable allocation functions, counting (see counting_new.hpp).

#include "tests/support/counting_new.hpp"

void* operator new(std::size_t n) {
  if (void* p = vigil::testing::alloc::counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = vigil::testing::alloc::counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return vigil::testing::alloc::counted(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return vigil::testing::alloc::counted(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
