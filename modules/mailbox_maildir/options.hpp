// options.hpp - the parsed [mailbox_maildir] section, read-only after
// instance_new and shared by every session of the instance.
#pragma once

#include "names.hpp"

#include <cstdint>

namespace mailbox_maildir
{

struct Options {
    UidlFormat uidl_format = UidlFormat::basename;
    bool exclusive_lock = true; // safe by default: no duplicate downloads
    int64_t lock_stale_sec = 1800;
    bool size_cache = true;
    bool trust_w_size = true;
    bool mark_seen = true;
    bool tmp_cleanup = true;
    int64_t tmp_max_age_sec = 36 * 3600;
    uint64_t max_messages = 1000000;
    bool refuse_hard_links = false;
    // Threads counting sizes on a listing with many messages to read.
    uint32_t size_threads = 4;
};

} // namespace mailbox_maildir
