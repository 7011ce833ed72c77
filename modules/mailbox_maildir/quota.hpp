// quota.hpp - keeps a Maildir++ "maildirsize" quota file right after
// deletions: one line "-<bytes> -<count>" is appended with a single
// O_APPEND write (Courier README.maildirquota), as deliverers do for their
// additions. The file is only touched when it already exists; a deliverer
// recalculates it when it grows past 5120 bytes, as the specification says.
#pragma once

#include <cstdint>
#include <sys/types.h>

namespace mailbox_maildir
{

inline constexpr const char *kQuotaName = "maildirsize";

// quota_note_deleted - returns 0, or an errno value (ENOENT is not an error:
// no quota file means no quota). EPERM when the file is not ours or not a
// plain file (it is then left alone).
int quota_note_deleted(int dirfd, uid_t uid, uint64_t bytes, uint64_t count);

} // namespace mailbox_maildir
