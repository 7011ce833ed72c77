// index_cache.hpp - the on-disk index (offsets, sizes, UIDL digests) that
// saves re-reading a big mbox at every login. It is only a cache: anything
// doubtful (owner, mode, checksum, the mbox's inode, size, mtime or the
// hashes of its head and of the end of the indexed part) means "rebuild".
#pragma once

#include "md5.hpp"
#include "scanner.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace mbox
{

namespace md5 = modpop3d::md5;
using Digest = md5::Digest;

struct CacheData {
    uint64_t dev = 0, ino = 0;
    uint64_t size = 0; // bytes of the mbox the index covers
    int64_t mtime_sec = 0, mtime_nsec = 0;
    uint32_t format = 0, uidl_style = 0;
    Digest head{}, tail{}; // MD5 of the first / last 4 KiB of [0, size)
    uint64_t hidden_end = 0;
    std::vector<MsgRec> msgs;
};

constexpr uint64_t cache_probe = 4096;

// region_md5 - MD5 of [off, off+len) of fd. Throws IoError.
Digest region_md5(int fd, uint64_t off, uint64_t len);

// cache_load - read and check the file's own integrity; false (with `why`)
// when absent, foreign, unsafe or damaged.
bool cache_load(const std::string &path, CacheData &out, std::string &why);
// cache_save - write via a temporary file and rename; false on failure.
bool cache_save(const std::string &path, const CacheData &in, std::string &why);

} // namespace mbox
