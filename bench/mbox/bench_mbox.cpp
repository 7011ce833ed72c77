// bench_mbox.cpp - generate an mbox of about N MB (default 1024) in a
// temporary directory and time open + scan + info of every message through
// the real module loader: first without an index cache, then with it, then
// after one appended message (incremental rescan), then with the cache off.
#include "module_harness.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

using modpop3d::testing::LoadedModule;

namespace
{

double cpu_seconds()
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double last_cpu = 0;

// timed_open - wall seconds; last_cpu gets the CPU seconds (user + system),
// which a loaded machine distorts less.
double timed_open(LoadedModule &mod, const std::string &box, uint32_t *count, uint64_t *octets)
{
    double c0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    auto session = mod.session({{"user", "bench"}});
    void *mb = nullptr;
    if (mod.mailbox().open(mod.instance(), session->get(), box.c_str(), 0, &mb) != MODPOP3D_OK) {
        std::fprintf(stderr, "open failed\n");
        std::exit(1);
    }
    if (mod.mailbox().scan(mb, count) != MODPOP3D_OK) {
        std::fprintf(stderr, "scan failed\n");
        std::exit(1);
    }
    *octets = 0;
    for (uint32_t i = 0; i < *count; ++i) {
        modpop3d_msg_info mi{};
        mi.struct_size = sizeof mi;
        mod.mailbox().info(mb, i, &mi);
        *octets += mi.size;
    }
    mod.mailbox().close(mb);
    last_cpu = cpu_seconds() - c0;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string message(unsigned i)
{
    std::string m =
        "From sender" + std::to_string(i % 97) + "@example.org Mon Jan  6 10:00:00 2025\n";
    m += "Received: from mx.example.org by host with ESMTP id " + std::to_string(i) + "\n";
    m += "Message-ID: <" + std::to_string(i) + ".bench@example.org>\n";
    m += "From: Sender <sender@example.org>\nTo: bench@example.org\nSubject: message " +
         std::to_string(i) + "\n\n";
    // Sizes: mostly 2-8 KB, every 100th ~200 KB, every 5000th ~4 MB.
    std::size_t body = 2000 + (i * 7919u) % 6000;
    if (i % 100 == 0)
        body = 200000;
    if (i % 5000 == 4999)
        body = 4u << 20;
    std::string line(71, 'x');
    line += '\n';
    for (std::size_t n = 0; n < body; n += line.size())
        m += (n % 50 == 0 && i % 3 == 0) ? ">From quoted line in the body xxxxxxxxxxxxxxxxxxxx\n"
                                         : line;
    return m + "\n";
}

} // namespace

int main(int argc, char **argv)
{
    uint64_t mb_target = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1024;
    std::string dir;
    if (argc > 2) {
        dir = argv[2];
    } else {
        char tmpl[] = "/tmp/bench-mbox-XXXXXX";
        if (mkdtemp(tmpl) == nullptr)
            return 1;
        dir = tmpl;
    }
    std::string box = dir + "/mbox";
    int fd = ::open(box.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 1;
    std::string buf;
    uint64_t written = 0;
    unsigned n = 0;
    auto g0 = std::chrono::steady_clock::now();
    while (written < mb_target << 20) {
        buf += message(n++);
        if (buf.size() > (4u << 20)) {
            if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size()))
                return 1;
            written += buf.size();
            buf.clear();
        }
    }
    if (!buf.empty() && ::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size()))
        return 1;
    written += buf.size();
    fsync(fd);
    ::close(fd);
    double gen = std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
    std::printf("generated %s: %.1f MB, %u messages in %.2f s\n", box.c_str(), written / 1048576.0,
                n, gen);

    LoadedModule mod(MAILBOX_MBOX_SO, {});
    uint32_t count = 0;
    uint64_t octets = 0;
    double t1 = timed_open(mod, box, &count, &octets);
    std::printf(
        "first open+scan+info (builds index): %.3f s (cpu %.3f s), %u messages, %llu octets\n", t1,
        last_cpu, count, static_cast<unsigned long long>(octets));
    double t2 = timed_open(mod, box, &count, &octets);
    std::printf("second open+scan+info (index cache): %.3f s (cpu %.3f s)\n", t2, last_cpu);
    fd = ::open(box.c_str(), O_WRONLY | O_APPEND);
    std::string extra = message(n);
    if (::write(fd, extra.data(), extra.size()) != static_cast<ssize_t>(extra.size()))
        return 1;
    ::close(fd);
    double t3 = timed_open(mod, box, &count, &octets);
    std::printf("after one delivery (incremental):   %.3f s (cpu %.3f s), %u messages\n", t3,
                last_cpu, count);
    LoadedModule nocache(MAILBOX_MBOX_SO, {{"index", "no"}});
    double t4 = timed_open(nocache, box, &count, &octets);
    std::printf("index: no (full scan every time):   %.3f s (cpu %.3f s)\n", t4, last_cpu);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    std::printf("max RSS: %ld MB\n", ru.ru_maxrss / 1024);
    if (argc <= 2) {
        std::string cmd = "rm -rf '" + dir + "'";
        if (std::system(cmd.c_str()) != 0)
            return 1;
    }
    return 0;
}
