// pidfile.hpp - the master's pid file and daemon-mode detaching.
#pragma once

#include <string>
#include <sys/types.h>

namespace modpop3d::daemon
{

// PidFile - created with O_EXCL, so two masters never both believe they own
// it. An existing file naming a process that no longer exists (a stale file
// from a crash) is removed and the creation retried once; one naming a live
// process refuses the start. The destructor removes the file if it still
// holds our pid.
class PidFile
{
  public:
    PidFile() = default;
    ~PidFile();
    PidFile(const PidFile &) = delete;
    PidFile &operator=(const PidFile &) = delete;

    // create - write getpid() to `path`; false with `why` set.
    bool create(const std::string &path, std::string &why);
    void remove();

  private:
    std::string path_;
    pid_t pid_ = 0;
};

// Detaching (modpop3d -d). detach() forks twice and calls setsid(), so the
// daemon is no session leader and never regains a controlling terminal;
// the caller's process waits until the daemon reports (detach_done) or
// fails, and exits with 0 or 1 accordingly, so that init scripts see
// start-up errors. Returns in the daemon only; standard input, output and
// error are then /dev/null.
struct Detached {
    int report_fd = -1; // write one byte here once serving (detach_done)
};
Detached detach();
void detach_done(Detached &d, bool ok);

} // namespace modpop3d::daemon
