// heap.hpp - how much freed heap memory a long-lived process keeps.
//
// glibc gives large blocks back to the kernel as soon as they are freed
// (mmap'd blocks, and the top of the heap beyond 128 KiB), so a worker that
// lists a 50,000-message maildrop faults in several fresh megabytes at every
// such login. Pages the kernel must find and zero again cost far more than
// reusing them, and much more still on virtual machines whose host backs
// guest memory lazily.
#pragma once

#include <cstdint>

namespace modpop3d::util
{

// retain_freed_heap - keep up to `bytes` of freed heap for reuse: blocks up
// to that size (at most 32 MiB, glibc's limit) come from the heap, and the
// heap is trimmed only when more than that is free at its top. 0 leaves
// glibc's defaults. Call before the process starts its threads.
void retain_freed_heap(int64_t bytes);

} // namespace modpop3d::util
