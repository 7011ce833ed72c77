// lock_owner.hpp - who holds a lock file, written into it and judged from it,
// shared by mailbox_mbox (the dotlock) and mailbox_maildir (the session lock).
//
// A lock file we write holds two lines:
//
//     PID
//     modpop3d-lock host=HOST boot=BOOT_ID start=START pidns=PIDNS
//
// The first line alone is what other tools (liblockfile, old modpop3d) put
// in a dotlock, so they keep reading a pid. START is field 22 of
// /proc/PID/stat (clock ticks after boot), which tells a reused pid from
// the owner; BOOT_ID is /proc/sys/kernel/random/boot_id; PIDNS the inode of
// /proc/self/ns/pid, since a pid means nothing in another pid namespace.
//
// judge() decides from that record alone: an owner on this host, this boot
// and this pid namespace whose process is gone (or whose pid now belongs to
// a process started at another time) is dead; one from an earlier boot of
// this host is dead too. Everything else - another host (NFS), a file
// without our second line (procmail, postfix and most MDAs write an empty
// dotlock), an unreadable /proc - is "unknown" and left to the caller's age
// rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace modpop3d::lockowner
{

struct Owner {
    long pid = 0;
    std::string host;
    std::string boot;
    uint64_t start = 0; // 0: not known
    uint64_t pidns = 0; // 0: not known
    bool ours = false;  // the second line was there and parsed
};

// self - the record of the calling process (read anew each time: a forked
// worker has its own pid and start time).
Owner self();

// text - the two lines written into a lock file.
std::string text(const Owner &o);

// parse - the record in a lock file's first bytes; .ours is false for a
// foreign file (only .pid may then be set).
Owner parse(const char *data, std::size_t n);

enum class Verdict {
    alive,   // the owner is running: respect the lock
    dead,    // the owner is gone: break the lock now
    unknown, // cannot tell from here: fall back to the age rule
};

// judge - the verdict on `o`; `why` says in a few words how it was reached
// (for the log).
Verdict judge(const Owner &o, std::string &why);

// read_fd - read (at most 1 KiB of) an open lock file and judge its owner.
Verdict judge_fd(int fd, Owner &o, std::string &why);

// boot_id and start_time - exposed for tests.
std::string boot_id();
uint64_t start_time(long pid); // 0 when it cannot be read

} // namespace modpop3d::lockowner
