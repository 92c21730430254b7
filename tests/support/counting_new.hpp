#pragma once
// A counting global operator new for the no-allocation tests and benchmarks. counting_new.cpp
// replaces the allocation functions of the whole executable: add it to the executable's sources
// (its own file, so that g++ never inlines the replacements into code that frees with another
// of them and warns, -Wmismatched-new-delete). It is a plain passthrough to malloc that counts only
// on a thread that turned counting on (a Scope), so the allocations of other threads (an
// io_context, a timer thread) never make a measurement flaky.

#include <cstddef>
#include <cstdlib>
#include <new>

namespace vigil::testing::alloc {

inline thread_local bool counting = false;
inline thread_local long count = 0;

// Counts this thread's allocations while alive; value() reads them so far.
class Scope {
 public:
  Scope() {
    count = 0;
    counting = true;
  }
  ~Scope() { counting = false; }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
  long value() const { return count; }
  // The count so far, starting again from zero.
  long take() {
    const long n = count;
    count = 0;
    return n;
  }
};

inline void* counted(std::size_t n) noexcept {
  if (counting) ++count;
  return std::malloc(n == 0 ? 1 : n);
}

}  // namespace vigil::testing::alloc
