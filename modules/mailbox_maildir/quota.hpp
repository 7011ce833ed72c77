// quota.hpp - keeps a Maildir++ "maildirsize" quota file right after
// deletions (Courier's README.maildirquota, which Dovecot follows too).
//
// After UPDATE's unlinks, one line "-<bytes> -<count>" is appended with a
// single O_APPEND write, as deliverers do for their additions, and fsync'ed.
// The file is then recalculated - the quota line kept, one line with the
// totals counted from new/ and cur/ of the maildir and of every Maildir++
// folder (.Sent, .Trash, ...) - when the specification says so: the file has
// reached 5120 bytes, a line is malformed, or the totals exceed the quota
// and the file is more than 15 minutes old. The recount goes to tmp/, is
// fsync'ed and renamed over maildirsize, and the maildir is fsync'ed.
// A missing maildirsize means that no quota is defined for the maildir (the
// quota line comes from the deliverer's configuration, which recreates the
// file): none is created.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>

namespace mailbox_maildir
{

inline constexpr const char *kQuotaName = "maildirsize";

struct QuotaResult {
    int err = 0;               // 0, or an errno value
    bool recalculated = false; // the file was rewritten from a recount
    const char *reason = "";   // why it was recalculated
};

// quota_note_deleted - `dirfd` the maildir, `tmpfd` its tmp/ (or -1),
// `temp_name` a unique name for the recount's temporary file, `now` the
// current time. EPERM when the file is not ours or not a plain file (it is
// then left alone).
QuotaResult quota_note_deleted(int dirfd, int tmpfd, uid_t uid, uint64_t bytes, uint64_t count,
                               const std::string &temp_name, time_t now);

// Maildir++ limits from README.maildirquota.
inline constexpr off_t kQuotaRecalcBytes = 5120;
inline constexpr time_t kQuotaStaleSec = 15 * 60;

} // namespace mailbox_maildir
