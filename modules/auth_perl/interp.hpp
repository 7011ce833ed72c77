// interp.hpp - the embedded Perl interpreter, as run inside a helper
// process (never in the auth process itself): start-up (`start` code, the
// log functions scripts call), one call of a tpop3d-style sub (a hashref
// in, a hashref out), and shut-down (`finish` code). This is the only part
// of the module that includes the Perl headers.
#pragma once

#include "frame.hpp"

#include <string>
#include <vector>

namespace modpop3d::auth_perl
{

// What a helper runs: tpop3d's auth-perl-start / -finish code and the
// names of the subs that must exist after start.
struct Script {
    std::string start;
    std::string finish;
    std::vector<std::string> subs;
};

// run_helper - the main of a helper process. Starts the interpreter, sends
// 'R' ready (or 'E' with the error and exits), then answers 'C' frames on
// `fd` until end of file, runs `finish` and exits. Log lines from scripts
// go to `fd` as 'L' frames. Never returns.
[[noreturn]] void run_helper(int fd, const Script &script);

// check_script - in a throw-away process: start the interpreter, run
// `start`, check that the subs exist. Empty on success, else the error.
std::string check_script(const Script &script);

} // namespace modpop3d::auth_perl
