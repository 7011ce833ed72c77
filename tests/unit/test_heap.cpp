// test_heap.cpp - retain_freed_heap: with it a large block comes from the
// heap and stays there once freed; without it glibc maps and unmaps it.
// Each case runs in a child process (a death test) so that its malloc
// settings stay there.
#include "util/heap.hpp"

#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

using modpop3d::util::retain_freed_heap;

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_IS_GLIBC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_IS_GLIBC 0
#endif
#endif
#ifndef HEAP_IS_GLIBC
#define HEAP_IS_GLIBC 1
#endif

namespace
{

// exit status: 0 when the 4 MiB block was not mmap'd and the heap kept it
// after free(), 1 otherwise.
[[noreturn]] void allocate_and_report(int64_t retain)
{
    retain_freed_heap(retain);
    const struct mallinfo2 before = mallinfo2();
    constexpr std::size_t size = 4 << 20;
    // volatile: the compiler may drop a malloc and free it can see through.
    void *volatile p = std::malloc(size);
    std::memset(p, 1, size);
    const struct mallinfo2 during = mallinfo2();
    std::free(p);
    const struct mallinfo2 after = mallinfo2();
    const bool from_heap = during.hblks == before.hblks;
    const bool kept = after.arena >= size; // not trimmed away
    _exit(from_heap && kept ? 0 : 1);
}

} // namespace

TEST(Heap, RetainedBlocksComeFromTheHeapAndStayAfterFree)
{
    if (!HEAP_IS_GLIBC)
        GTEST_SKIP() << "AddressSanitizer replaces glibc's malloc";
    EXPECT_EXIT(allocate_and_report(32 << 20), ::testing::ExitedWithCode(0), "");
}

TEST(Heap, ZeroLeavesGlibcToMapLargeBlocks)
{
    if (!HEAP_IS_GLIBC)
        GTEST_SKIP() << "AddressSanitizer replaces glibc's malloc";
    EXPECT_EXIT(allocate_and_report(0), ::testing::ExitedWithCode(1), "");
}
