#include "tokrl/core/allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace tokrl {
namespace {

#if defined(__GLIBC__)
// After tuning, an 8 MiB buffer (a SoftMoE activation's size class) comes
// from the heap, not from its own mmap that free() would unmap.
TEST(Allocator, MidSizedBuffersStayOnTheHeap) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer replaces malloc";
#endif
  TuneAllocator();
  TuneAllocator();  // idempotent
  const int mapped_before = mallinfo2().hblks;
  void* p = std::malloc(8 << 20);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 8 << 20);
  EXPECT_EQ(mallinfo2().hblks, mapped_before);
  std::free(p);
  // Freed memory is kept for the next allocation, not trimmed away.
  EXPECT_GE(mallinfo2().fordblks, 8u << 20);
}
#endif

}  // namespace
}  // namespace tokrl
