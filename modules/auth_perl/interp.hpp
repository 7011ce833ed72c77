// interp.hpp - the embedded Perl interpreter, as run inside the spawner and
// its helper processes (never in the auth process itself): start-up
// (`start` code, the log functions scripts call), one call of a tpop3d-style
// sub (a hashref in, a hashref out), and shut-down (`finish` code). This is the only part
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

// load - start the interpreter in this process and run `start`; check
// that the subs exist. False with `err` (the Perl error). The spawner does
// this once; its helpers are forks of the loaded interpreter.
bool load(const Script &script, std::string &err);

// serve - the main of a helper forked after load(): send 'R' ready, answer
// 'C' frames on `fd` until end of file, run `finish` and exit. Log lines
// from scripts go to `fd` as 'L' frames. Never returns.
[[noreturn]] void serve(int fd, const Script &script);

// check_script - in a throw-away process: start the interpreter, run
// `start`, check that the subs exist. Empty on success, else the error.
std::string check_script(const Script &script);

} // namespace modpop3d::auth_perl
