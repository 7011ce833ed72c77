// pop3_size.cpp - counts LFs not preceded by CR, across chunk boundaries.
#include "pop3_size.hpp"

#include <cstring>

namespace mailbox_maildir
{

void Pop3SizeCounter::feed(const char *data, std::size_t len)
{
    if (len == 0)
        return;
    octets_ += len;
    const char *p = data;
    const char *end = data + len;
    while (p < end) {
        const void *hit = std::memchr(p, '\n', std::size_t(end - p));
        if (hit == nullptr)
            break;
        const char *lf = static_cast<const char *>(hit);
        bool cr_before = lf == data ? prev_cr_ : lf[-1] == '\r';
        if (!cr_before)
            ++bare_lf_;
        p = lf + 1;
    }
    prev_cr_ = end[-1] == '\r';
}

} // namespace mailbox_maildir
