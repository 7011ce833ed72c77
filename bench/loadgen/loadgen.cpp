// loadgen.cpp - the POP3 load generator's command line: builds the sessions of
// a scenario from the manifest, runs them on up to one worker thread per core
// and prints one machine-readable RESULT line. Every reply is verified (see
// worker.cpp); a session with any wrong byte counts as an error, never as
// throughput. Talks to 127.0.0.1 only.
#include "manifest.hpp"
#include "worker.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace
{

using Clock = std::chrono::steady_clock;

struct Options {
    std::string scenario;
    std::string manifest;
    std::string users;
    std::string label = "-";
    std::string tls_ca;
    std::string store; // compare RETRs with the store's files (load_expected)
    uint16_t port = 0;
    unsigned sessions = 0;
    unsigned concurrency = 32;
    unsigned threads = 1;
    unsigned retr = 0;
    bool tls = false;
    bool tls_resume = false;
    bool verify_empty = false;
    double time_limit = 300;
    double hold_max = 120;
    double seconds = 2;
};

[[noreturn]] void usage(const char *why)
{
    std::fprintf(stderr,
                 "loadgen: %s\n"
                 "usage: loadgen --scenario churn|delete|bulk|big|idle|tcp-probe --port N\n"
                 "  --manifest FILE [--users PREFIX] [--sessions N] [--concurrency N]\n"
                 "  [--threads N] [--retr N] [--tls [--tls-resume] [--tls-ca FILE]]\n"
                 "  [--verify-empty] [--time-limit S] [--hold-max S] [--seconds S]\n"
                 "  [--label TEXT] [--store DIR]\n"
                 "--store: the store root of the manifest's message paths; RETRs are then\n"
                 "  compared byte for byte with the wire bytes rebuilt from those files\n"
                 "  (kept only when they hash to the manifest's SHA-256) instead of hashed\n",
                 why);
    std::exit(2);
}

Options parse(int argc, char **argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc)
                usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        auto num = [&]() -> double {
            const std::string v = val();
            char *end = nullptr;
            const double d = std::strtod(v.c_str(), &end);
            if (end == v.c_str() || *end != '\0' || d < 0)
                usage(("bad number for " + a).c_str());
            return d;
        };
        if (a == "--scenario")
            o.scenario = val();
        else if (a == "--manifest")
            o.manifest = val();
        else if (a == "--users")
            o.users = val();
        else if (a == "--label")
            o.label = val();
        else if (a == "--tls-ca")
            o.tls_ca = val();
        else if (a == "--store")
            o.store = val();
        else if (a == "--port")
            o.port = static_cast<uint16_t>(num());
        else if (a == "--sessions")
            o.sessions = static_cast<unsigned>(num());
        else if (a == "--concurrency")
            o.concurrency = std::max(1u, static_cast<unsigned>(num()));
        else if (a == "--threads")
            o.threads = std::max(1u, static_cast<unsigned>(num()));
        else if (a == "--retr")
            o.retr = static_cast<unsigned>(num());
        else if (a == "--tls")
            o.tls = true;
        else if (a == "--tls-resume")
            o.tls = o.tls_resume = true;
        else if (a == "--verify-empty")
            o.verify_empty = true;
        else if (a == "--time-limit")
            o.time_limit = num();
        else if (a == "--hold-max")
            o.hold_max = num();
        else if (a == "--seconds")
            o.seconds = std::min(num(), 60.0);
        else
            usage(("unknown option " + a).c_str());
    }
    if (o.scenario.empty())
        usage("--scenario is required");
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    o.threads = std::min(o.threads, cores); // at most one thread per core
    return o;
}

using bench::Session;
using bench::Step;
using bench::User;

std::vector<Step> login(const User &)
{
    return {{Step::greet}, {Step::user}, {Step::pass}};
}

std::vector<Session> build(const Options &o, const std::vector<const User *> &users, bool check)
{
    std::vector<Session> out;
    if (users.empty())
        return out;
    const std::string &sc = o.scenario;
    unsigned n = o.sessions;
    if (n == 0)
        n = sc == "churn"                 ? 1000
            : sc == "bulk" || sc == "big" ? 1
                                          : static_cast<unsigned>(users.size());
    if ((sc == "delete" || check) && n > users.size())
        n = static_cast<unsigned>(users.size()); // one session per maildrop
    for (unsigned i = 0; i < n; ++i) {
        const User &u = *users[i % users.size()];
        Session s{&u, login(u)};
        auto add = [&](Step::Kind k, uint64_t arg = 0) { s.steps.push_back({k, arg}); };
        const uint64_t count = u.messages.size();
        if (check) {
            add(Step::stat, 1);
        } else if (sc == "churn") {
            add(Step::stat);
            add(Step::uidl);
            add(Step::list);
            const uint64_t k = std::min<uint64_t>(o.retr ? o.retr : 3, count);
            const uint64_t first = (uint64_t{i} * 7) % std::max<uint64_t>(count, 1);
            for (uint64_t j = 0; j < k; ++j)
                add(Step::retr, (first + j) % count + 1);
        } else if (sc == "delete") {
            add(Step::stat);
            add(Step::list);
            for (uint64_t m = 1; m <= count; ++m)
                add(Step::dele, m);
        } else if (sc == "bulk") {
            add(Step::stat);
            add(Step::list);
            const uint64_t k = o.retr ? std::min<uint64_t>(o.retr, count) : count;
            for (uint64_t m = 1; m <= k; ++m)
                add(Step::retr, m);
        } else if (sc == "big") {
            add(Step::stat);
            add(Step::uidl);
        } else if (sc == "idle") {
            add(Step::stat);
            add(Step::hold);
        } else {
            usage(("unknown scenario " + sc).c_str());
        }
        add(Step::quit);
        out.push_back(std::move(s));
    }
    return out;
}

SSL_CTX *make_tls(const Options &o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr)
        usage("cannot create a TLS context");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Whole records per read(2): the reply loop reads until OpenSSL wants
    // the socket again, so nothing read ahead is left waiting.
    SSL_CTX_set_read_ahead(ctx, 1);
    if (!o.tls_ca.empty()) {
        if (SSL_CTX_load_verify_locations(ctx, o.tls_ca.c_str(), nullptr) != 1)
            usage("cannot load --tls-ca");
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }
    if (o.tls_resume) {
        bench::enable_resumption(ctx);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    return ctx;
}

struct PhaseResult {
    bench::Stats stats;
    double elapsed = 0;
    double login_all = -1; // idle: seconds until every session was held
};

PhaseResult run_phase(const Options &o, std::vector<Session> sessions, SSL_CTX *tls, bool idle)
{
    PhaseResult res;
    const unsigned threads =
        std::min<unsigned>(o.threads, std::max<std::size_t>(sessions.size(), 1));
    const std::size_t total = sessions.size();
    std::vector<std::vector<Session>> parts(threads);
    for (std::size_t i = 0; i < sessions.size(); ++i)
        parts[i % threads].push_back(std::move(sessions[i]));
    bench::HoldBarrier barrier;
    bench::WorkerConfig cfg;
    cfg.port = o.port;
    cfg.tls = tls;
    cfg.tls_resume = o.tls_resume;
    cfg.concurrency = std::max(1u, o.concurrency / threads);
    // big: a multi-megabyte listing in few reads.
    cfg.buffer = o.scenario == "bulk" ? 256 * 1024 : o.scenario == "big" ? 1024 * 1024 : 80 * 1024;
    const auto t0 = Clock::now();
    cfg.deadline = t0 + std::chrono::milliseconds(static_cast<int64_t>(o.time_limit * 1000));
    std::vector<std::unique_ptr<bench::Worker>> workers;
    for (auto &p : parts)
        workers.push_back(std::make_unique<bench::Worker>(cfg, std::move(p), barrier));
    std::atomic<unsigned> done{0};
    std::vector<std::thread> ts;
    for (auto &w : workers)
        ts.emplace_back([&w, &done] {
            w->run();
            done.fetch_add(1);
        });
    if (idle) {
        // Wait (bounded) until every session is logged in and held, report,
        // then hold until a line arrives on stdin (or --hold-max passes).
        while (barrier.held.load() + barrier.failed.load() < total && done.load() < threads &&
               Clock::now() < cfg.deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        res.login_all = std::chrono::duration<double>(Clock::now() - t0).count();
        std::printf("IDLE-READY held=%u login_all_s=%.3f\n", barrier.held.load(), res.login_all);
        std::fflush(stdout);
        pollfd p{0, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(o.hold_max * 1000)) > 0) {
            char buf[64];
            (void)!read(0, buf, sizeof buf);
        }
        barrier.release.store(true);
    }
    for (auto &t : ts)
        t.join();
    res.elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    for (auto &w : workers)
        res.stats.merge(w->stats());
    return res;
}

// cpu_seconds - user + system CPU time of this process (all threads).
double cpu_seconds()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto sec = [](const timeval &t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
}

double percentile(std::vector<double> v, double p)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const auto idx = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, idx == 0 ? 0 : idx - 1)];
}

// tcp_probe - plain loopback TCP throughput: one thread writes 256 KiB
// blocks for `seconds`, this one reads and counts.
int tcp_probe(const Options &o)
{
    const int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (ls < 0 || bind(ls, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0 || listen(ls, 1) < 0 ||
        getsockname(ls, reinterpret_cast<sockaddr *>(&sa), &len) < 0) {
        std::perror("tcp-probe");
        return 1;
    }
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0 || connect(s, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0)
            return;
        std::vector<char> block(256 * 1024, 'x');
        while (!stop.load())
            if (send(s, block.data(), block.size(), MSG_NOSIGNAL) <= 0)
                break;
        close(s);
    });
    const int c = accept(ls, nullptr, nullptr);
    std::vector<char> buf(256 * 1024);
    uint64_t bytes = 0;
    const auto t0 = Clock::now();
    const auto until = t0 + std::chrono::milliseconds(static_cast<int64_t>(o.seconds * 1000));
    while (c >= 0 && Clock::now() < until) {
        const ssize_t n = read(c, buf.data(), buf.size());
        if (n <= 0)
            break;
        bytes += static_cast<uint64_t>(n);
    }
    const double el = std::chrono::duration<double>(Clock::now() - t0).count();
    stop.store(true);
    if (c >= 0)
        close(c); // unblocks the writer
    writer.join();
    close(ls);
    std::printf(
        "RESULT scenario=tcp-probe label=%s errors=0 elapsed_s=%.3f bytes=%llu mb_per_s=%.1f\n",
        o.label.c_str(), el, static_cast<unsigned long long>(bytes),
        static_cast<double>(bytes) / el / 1e6);
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    std::signal(SIGPIPE, SIG_IGN);
    const Options o = parse(argc, argv);
    if (o.scenario == "tcp-probe")
        return tcp_probe(o);
    if (o.port == 0)
        usage("--port is required");
    if (o.manifest.empty())
        usage("--manifest is required");
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    bench::Manifest manifest;
    std::string why;
    if (!manifest.load(o.manifest, why))
        usage(why.c_str());
    std::string prefix = o.users;
    if (prefix.empty())
        prefix = o.scenario == "churn"    ? "c"
                 : o.scenario == "delete" ? "d"
                 : o.scenario == "idle"   ? "i"
                 : o.scenario == "bulk"   ? "bulk"
                                          : "";
    if (prefix.empty())
        usage("--users is required for this scenario");
    const auto users = manifest.users_with_prefix(prefix);
    if (users.empty())
        usage(("no manifest users match " + prefix).c_str());

    uint64_t expected = 0;
    if (!o.store.empty()) {
        // Not timed. A file that exists but disagrees with the manifest is
        // reported; its RETRs are hashed (and then fail against the manifest).
        std::size_t mismatched = 0;
        expected = manifest.load_expected(o.store, users, mismatched);
        if (mismatched != 0)
            std::fprintf(stderr,
                         "loadgen: %zu stored messages do not hash to the manifest's digest\n",
                         mismatched);
    }

    SSL_CTX *tls = o.tls ? make_tls(o) : nullptr;
    const double cpu0 = cpu_seconds();
    PhaseResult r = run_phase(o, build(o, users, false), tls, o.scenario == "idle");
    const double cpu = cpu_seconds() - cpu0;
    if (o.verify_empty) {
        // Not timed: every maildrop must now be empty.
        PhaseResult chk = run_phase(o, build(o, users, true), tls, false);
        r.stats.errors += chk.stats.errors;
        for (const auto &s : chk.stats.samples)
            r.stats.samples.push_back("after delete: " + s);
    }
    if (tls != nullptr)
        SSL_CTX_free(tls);

    const bench::Stats &s = r.stats;
    for (const auto &e : s.samples)
        std::fprintf(stderr, "loadgen: error: %s\n", e.c_str());
    std::printf(
        "RESULT scenario=%s label=%s sessions=%llu ok=%llu errors=%llu elapsed_s=%.4f "
        "sessions_per_s=%.1f retr=%llu retr_bytes=%llu mb_per_s=%.1f "
        "lat_median_ms=%.3f lat_p99_ms=%.3f tls_handshakes=%llu tls_resumed=%llu "
        "login_all_s=%.3f cpu_s=%.3f expected=%llu\n",
        o.scenario.c_str(), o.label.c_str(), static_cast<unsigned long long>(s.ok + s.errors),
        static_cast<unsigned long long>(s.ok), static_cast<unsigned long long>(s.errors), r.elapsed,
        static_cast<double>(s.ok) / r.elapsed, static_cast<unsigned long long>(s.retr),
        static_cast<unsigned long long>(s.retr_bytes),
        static_cast<double>(s.retr_bytes) / r.elapsed / 1e6, percentile(s.latency_ms, 0.5),
        percentile(s.latency_ms, 0.99), static_cast<unsigned long long>(s.tls_handshakes),
        static_cast<unsigned long long>(s.tls_resumed), r.login_all, cpu,
        static_cast<unsigned long long>(expected));
    return s.errors == 0 ? 0 : 1;
}
