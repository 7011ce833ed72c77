// fault.hpp - the test seam of commit(): numbered fault points before every
// step that changes the disk. Compiled in only when MODPOP3D_MBOX_FAULT_SEAM
// is defined (meson: tests enabled and buildtype not release).
//
// MODPOP3D_MBOX_FAULT="kill@N"    raise(SIGKILL) at the Nth point of commit
// MODPOP3D_MBOX_FAULT="enospc@N"  make the Nth point fail with ENOSPC
// N may also be a step name (create, fchown, fchmod, write, fsync, close,
// rename, dirsync, reopen, index): the first point of that name.
#pragma once

#include <string>

namespace mbox
{

class Faults
{
  public:
    Faults();
    // point - true when this step must fail with ENOSPC (errno is set);
    // never returns when it must die.
    bool point(const char *name);
    int count() const { return n_; }

  private:
    std::string action_;
    std::string where_;
    int n_ = 0;
};

} // namespace mbox
