// heap.cpp - freed heap retention (see heap.hpp).
#include "util/heap.hpp"

#include <algorithm>
#include <malloc.h>

namespace modpop3d::util
{

void retain_freed_heap(int64_t bytes)
{
    if (bytes <= 0)
        return;
    // glibc refuses an mmap threshold above 32 MiB on 64-bit systems.
    constexpr int64_t mmap_threshold_max = int64_t(32) << 20;
    mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min(bytes, mmap_threshold_max)));
    mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::min<int64_t>(bytes, INT32_MAX)));
}

} // namespace modpop3d::util
