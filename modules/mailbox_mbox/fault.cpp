// fault.cpp - see fault.hpp.
#include "fault.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <string>

namespace mbox
{

Faults::Faults()
{
#ifdef MODPOP3D_MBOX_FAULT_SEAM
    const char *spec = std::getenv("MODPOP3D_MBOX_FAULT");
    if (spec != nullptr) {
        std::string s(spec);
        auto at = s.find('@');
        if (at != std::string::npos) {
            action_ = s.substr(0, at);
            where_ = s.substr(at + 1);
        }
    }
#endif
}

bool Faults::point(const char *name)
{
    ++n_;
    if (action_.empty())
        return false;
    bool hit = where_ == std::to_string(n_) || where_ == name;
    if (!hit)
        return false;
    if (where_ == name)
        where_.clear(); // only the first point of that name
    if (action_ == "kill") {
        std::raise(SIGKILL);
        std::_Exit(9);
    }
    if (action_ == "enospc") {
        errno = ENOSPC;
        return true;
    }
    return false;
}

} // namespace mbox
