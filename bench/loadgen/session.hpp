// session.hpp - what one POP3 session does (a script of steps) and what the
// load generator counts. Scripts are built per scenario in loadgen.cpp and
// executed by the event loop in worker.cpp.
#pragma once

#include "manifest.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace bench
{

struct Step {
    enum Kind { greet, user, pass, stat, uidl, list, retr, dele, quit, hold } kind;
    uint64_t arg = 0; // message number (retr, dele); 1 = expect an empty maildrop (stat)
};

struct Session {
    const User *user = nullptr;
    std::vector<Step> steps;
};

struct Stats {
    uint64_t ok = 0;
    uint64_t errors = 0;
    uint64_t retr = 0;
    uint64_t retr_bytes = 0; // POP3 size of every verified RETR
    uint64_t tls_handshakes = 0;
    uint64_t tls_resumed = 0;
    std::vector<double> latency_ms;   // per successful session
    std::vector<std::string> samples; // the first few error descriptions

    void error(std::string why)
    {
        ++errors;
        if (samples.size() < 20)
            samples.push_back(std::move(why));
    }
    void merge(const Stats &o)
    {
        ok += o.ok;
        errors += o.errors;
        retr += o.retr;
        retr_bytes += o.retr_bytes;
        tls_handshakes += o.tls_handshakes;
        tls_resumed += o.tls_resumed;
        latency_ms.insert(latency_ms.end(), o.latency_ms.begin(), o.latency_ms.end());
        for (const auto &s : o.samples)
            if (samples.size() < 20)
                samples.push_back(s);
    }
};

} // namespace bench
