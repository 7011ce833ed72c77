// chroot_dir.hpp - whether a directory is safe as the workers' login-chroot.
// A pure file-system check: the config runs it at load and reload (so that a
// broken one keeps the running generation), the process code before chroot(2).
#pragma once

#include <string>

namespace modpop3d::config
{

// check_chroot_dir - why `dir` must not be a login-chroot, or "" when it is
// fine: it must be a directory owned by root and writable by nobody else (a
// chroot its user can write to can be escaped, and its files replaced), and
// so must every directory above it, unless that one is sticky (/tmp): else
// another user could rename the chroot away and put their own in its place.
// Symbolic links are followed, as chroot(2) follows them.
std::string check_chroot_dir(const std::string &dir);

} // namespace modpop3d::config
