// file_cache.hpp - auth_flatfile's view of its files on disk: one immutable
// parsed Table per path, re-read when the file changes (checked at most once
// per interval: inode, size, mtime and ctime), shared between threads.
//
// Callers get a shared_ptr to the current table and keep using it while a
// newer one replaces it; a table is never modified after it is published.
#pragma once

#include "passwd_file.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <unordered_map>

namespace modpop3d::flatfile
{

class FileCache
{
  public:
    enum class Status {
        ok,      // `table` is set
        missing, // the file does not exist (or is not a regular file when
                 // missing_if_not_regular was asked for)
        error,   // unreadable, world-writable, too large: `error` says why
    };
    struct Result {
        Status status = Status::error;
        std::shared_ptr<const Table> table;
        std::string error;
        bool first_report = false; // this error differs from the last one for the path
    };
    // Called with (line, problem) for each malformed line of a (re)loaded file,
    // and once per (re)load with line 0 and "loaded N users".
    using Reporter =
        std::function<void(const std::string &path, unsigned line, const std::string &what)>;

    FileCache(uint64_t interval_usec, bool lowercase, bool missing_if_not_regular);

    // get - the table for `path` at monotonic time `now_usec`. Thread-safe.
    Result get(const std::string &path, uint64_t now_usec, const Reporter &report);

    // Files larger than this are refused: a passwd file is not a database.
    static constexpr off_t max_size = 64 << 20;
    // Paths remembered at most (per-domain files); beyond, one is forgotten.
    static constexpr std::size_t max_files = 4096;

  private:
    struct State {
        std::mutex lock;
        std::shared_ptr<const Table> table;
        uint64_t checked_usec = 0;
        dev_t dev = 0;
        ino_t ino = 0;
        off_t size = -1;
        struct timespec mtime {
        };
        struct timespec ctime {
        };
        std::string last_error;
    };
    bool same_file(const State &s, const struct stat &st) const noexcept;
    Result load(State &s, const std::string &path, uint64_t now_usec, const Reporter &report);

    const uint64_t interval_usec_;
    const bool lowercase_;
    const bool missing_if_not_regular_;
    std::mutex map_lock_;
    std::unordered_map<std::string, std::shared_ptr<State>> files_;
};

} // namespace modpop3d::flatfile
