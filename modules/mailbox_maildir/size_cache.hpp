// size_cache.hpp - the per-maildir cache of exact POP3 sizes
// ("modpop3d-cache" in the maildir), so that a second login on a big Maildir
// reads no message bodies.
//
// Text format, one record a line, in POP3 order, written atomically
// (temporary file in tmp/ + rename) and owned by the mailbox user, mode 0600:
//   modpop3d-cache 4 <dev> <maildir-ino> <new-ino> <cur-ino> <w-sizes 0|1>
//                    <new-mtime-ns> <cur-mtime-ns> <listed-at-ns> <complete 0|1>
//   <pop3-size> <file-size> <received> <mtime-ns> <n|c> <file name>
//   ...
//   end <records> <checksum (size_cache.cpp) of every byte before this line, 16 hex digits>
// (the header is one line). It names the directories the cache was written
// for. While they are the same directories (same device and inodes), an
// entry is trusted by its base name alone, without a stat: Maildir base names
// are unique and a message file is never rewritten in place (only its
// ":2,flags" suffix changes), so the name stands for the content. When the
// directories differ (a maildir restored or copied elsewhere) an entry is
// used only when the file's size and mtime (ns) still match.
// Snapshot: when the listing that wrote the cache was complete (every message
// cached, nothing vanished or failed, not truncated), the records are that
// listing. If new/ and cur/ still have the mtimes seen before that listing
// began, and those mtimes were at least 2 s older than its start (so that a
// later change, even within the file system's timestamp granularity, shows
// as a newer mtime), nothing was added, removed or renamed since: the next
// login takes the listing from the cache without reading the directories.
// A missing trailer, a bad checksum, a bad line, a wrong owner or mode, or a
// symlink make the whole file ignored; it is then rewritten. <w-sizes> says
// whether sizes were taken from ",W=" names (trust-w-size); a cache written
// under the other setting is not used. Names that contain octets outside
// 0x21-0x7E are never cached (their size is computed).
#pragma once

#include "name_index.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace mailbox_maildir
{

inline constexpr const char *kCacheName = "modpop3d-cache";

struct CacheEntry {
    uint64_t pop3_size = 0;
    uint64_t file_size = 0;
    int64_t received = 0; // delivery time (seconds) used for the POP3 order
    int64_t mtime_ns = 0;
};

// DirTimes - the mtimes of new/ and cur/ and when a listing began (ns).
struct DirTimes {
    int64_t new_ns = 0, cur_ns = 0, listed_at_ns = 0;
    unsigned complete = 0;
    // settled - any change after listed_at would give a newer mtime.
    bool settled() const
    {
        return complete != 0 && (new_ns > cur_ns ? new_ns : cur_ns) + 2000000000 <= listed_at_ns;
    }
};

// CacheRecord - one line: the full file name (base, then ":info" if any).
struct CacheRecord {
    std::string_view name;
    uint16_t base_len = 0;
    uint8_t dir = 0; // 0 new/, 1 cur/
    CacheEntry entry;
};

// DirIdentity - which maildir the cache describes.
struct DirIdentity {
    uint64_t dev = 0, root_ino = 0, new_ino = 0, cur_ino = 0;
    unsigned w_sizes = 0; // 1: sizes from ,W= names are in the cache
    bool operator==(const DirIdentity &) const = default;
};

class SizeCache
{
  public:
    enum class Load { missing, loaded, invalid };

    // load - read and validate the cache in the maildir `dirfd`; `why` names
    // the reason when the result is invalid.
    Load load(int dirfd, uid_t uid, std::string &why);

    // identity - the directories named by the loaded header.
    const DirIdentity &identity() const { return id_; }
    const DirTimes &times() const { return times_; }
    // records - every record, in the order written (the POP3 order).
    const std::vector<CacheRecord> &records() const { return records_; }

    // find - the entry for `base`, or null (no check against the file).
    const CacheEntry *find(std::string_view base) const;
    // find - the entry for `base` when its file size and mtime match, else null.
    const CacheEntry *find(std::string_view base, uint64_t file_size, int64_t mtime_ns) const;

    std::size_t size() const { return records_.size(); }

  private:
    void build_index() const;
    std::unique_ptr<char[]> buf_; // the file's bytes; records_ point into them
    DirIdentity id_;
    DirTimes times_;
    std::vector<CacheRecord> records_;
    // Built on the first find(): a login served from the snapshot needs none.
    mutable NameIndex<uint32_t> index_;
    mutable bool indexed_ = false;
};

// CacheWriter - collects the records of the current listing and replaces the
// cache file atomically.
class CacheWriter
{
  public:
    CacheWriter(const DirIdentity &id, const DirTimes &times);
    // cacheable - 1-255 octets, each 0x21-0x7E (a file name or base name).
    static bool cacheable(std::string_view name);
    void add(std::string_view full_name, uint8_t dir, const CacheEntry &e);
    std::size_t records() const { return records_; }
    // commit - write tmp/<temp_name> (or <temp_name> in the maildir when tmp/
    // is missing) with mode 0600, then rename it over the cache file. Returns
    // 0 or an errno value.
    int commit(int dirfd, int tmpfd, const std::string &temp_name);

  private:
    std::string text_;
    std::size_t records_ = 0;
};

} // namespace mailbox_maildir
