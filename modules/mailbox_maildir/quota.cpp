// quota.cpp - append the negative delta line to maildirsize.
#include "quota.hpp"

#include "unique_fd.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mailbox_maildir
{

int quota_note_deleted(int dirfd, uid_t uid, uint64_t bytes, uint64_t count)
{
    if (count == 0)
        return 0;
    UniqueFd fd(::openat(dirfd, kQuotaName,
                         O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid())
        return errno == ENOENT ? 0 : errno;
    struct stat st;
    if (::fstat(fd.get(), &st) != 0)
        return errno;
    if (!S_ISREG(st.st_mode) || st.st_uid != uid || st.st_nlink != 1)
        return EPERM;
    char line[64];
    int n =
        std::snprintf(line, sizeof line, "-%llu -%llu\n", static_cast<unsigned long long>(bytes),
                      static_cast<unsigned long long>(count));
    ssize_t w = ::write(fd.get(), line, std::size_t(n));
    if (w != n)
        return w < 0 ? errno : EIO;
    return 0;
}

} // namespace mailbox_maildir
