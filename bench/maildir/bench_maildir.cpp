// bench_maildir.cpp - times mailbox_maildir on a big Maildir: the first
// open+scan+info of every message (sizes computed by reading every body, the
// size cache written), the second one on the unchanged maildir (the listing
// from the cache: no readdir, no stat, no body read), one after a delivery
// (directories read, no stat of a known name, the new file read) and one
// more unchanged. Wall and CPU time each.
// Not a test: run it by hand.
//   bench_maildir [messages] [module.so]     (default 100000, the built module)
// The Maildir is created in a fresh directory under TMPDIR and removed after;
// with BENCH_MAILDIR=<dir> it is made there once, reused by later runs (for
// perf or callgrind on the logins alone) and kept.
#include "module_harness.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using modpop3d::testing::LoadedModule;

namespace
{

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

bool write_all(const std::string &path, const std::string &data)
{
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    bool ok = ::write(fd, data.data(), data.size()) == ssize_t(data.size());
    return ::close(fd) == 0 && ok;
}

double cpu_ms()
{
    struct rusage ru {
    };
    ::getrusage(RUSAGE_SELF, &ru);
    auto ms = [](const timeval &tv) { return double(tv.tv_sec) * 1e3 + double(tv.tv_usec) / 1e3; };
    return ms(ru.ru_utime) + ms(ru.ru_stime);
}

struct Run {
    double ms = 0;
    double cpu = 0;
    uint32_t count = 0;
    uint64_t octets = 0;
    std::string scan_line;
};

Run open_scan_info(LoadedModule &mod, const std::string &md)
{
    Run r;
    auto session = mod.session({{"user", "bench"}});
    const auto &ops = mod.mailbox();
    auto t0 = Clock::now();
    const double c0 = cpu_ms();
    void *mb = nullptr;
    if (ops.open(mod.instance(), session->get(), md.c_str(), 0, &mb) != MODPOP3D_OK ||
        ops.scan(mb, &r.count) != MODPOP3D_OK) {
        std::fprintf(stderr, "open or scan failed\n");
        std::exit(1);
    }
    for (uint32_t i = 0; i < r.count; ++i) {
        modpop3d_msg_info mi{};
        mi.struct_size = sizeof mi;
        if (ops.info(mb, i, &mi) != MODPOP3D_OK) {
            std::fprintf(stderr, "info failed\n");
            std::exit(1);
        }
        r.octets += mi.size;
    }
    ops.close(mb);
    r.ms = ms_since(t0);
    r.cpu = cpu_ms() - c0;
    for (const std::string &line : mod.log_lines())
        if (line.find("event=scan") != std::string::npos)
            r.scan_line = line;
    return r;
}

bool create(const std::string &md, long n)
{
    for (const char *d : {"", "/new", "/cur", "/tmp"})
        ::mkdir((md + d).c_str(), 0700);

    // Messages of 1-8 KiB with LF line ends; half in new/, half seen in cur/.
    auto t0 = Clock::now();
    uint64_t bytes = 0;
    std::string body;
    for (long i = 0; i < n; ++i) {
        body = "Return-Path: <sender@example.org>\nSubject: message " + std::to_string(i) +
               "\nFrom: sender@example.org\nTo: user@example.net\n\n";
        std::size_t target = 1024 + std::size_t(i * 7919 % 7168);
        while (body.size() < target)
            body += "The quick brown fox jumps over the lazy dog, line " +
                    std::to_string(body.size()) + ".\n";
        std::string name = std::to_string(1600000000 + i) + ".M" + std::to_string(i) + "P1.bench";
        bool ok = i % 2 == 0 ? write_all(md + "/new/" + name, body)
                             : write_all(md + "/cur/" + name + ":2,S", body);
        if (!ok) {
            std::perror("write");
            return false;
        }
        bytes += body.size();
    }
    std::printf("created %ld messages, %.1f MiB, in %.0f ms (%s)\n", n, double(bytes) / 1048576.0,
                ms_since(t0), md.c_str());

    return true;
}

} // namespace

int main(int argc, char **argv)
{
    long n = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 100000;
    std::string so = argc > 2 ? argv[2] : MAILDIR_MODULE_PATH;
    if (n <= 0)
        return 2;
    const char *keep = std::getenv("BENCH_MAILDIR");
    std::string root;
    if (keep != nullptr && *keep != '\0') {
        root = keep;
        ::mkdir(root.c_str(), 0700);
    } else {
        const char *tmp = std::getenv("TMPDIR");
        std::string tmpl =
            std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/bench_maildir.XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (::mkdtemp(buf.data()) == nullptr)
            return 1;
        root = buf.data();
    }
    const std::string md = root + "/Maildir";
    struct stat existing {
    };
    const bool reuse = keep != nullptr && ::stat((md + "/cur").c_str(), &existing) == 0;
    if (!reuse && !create(md, n))
        return 1;
    {
        LoadedModule mod(so, {});
        // The directories must be older than 2 s for a listing to be reused
        // (see size_cache.hpp): a real maildir is, the one just made is not.
        ::usleep(2100 * 1000);
        Run first = open_scan_info(mod, md);
        Run second = open_scan_info(mod, md);
        // One new message arrives: the next login reads the directories
        // again (no stat of a known name, one new file read).
        if (!write_all(md + "/new/1900000000.Mnew.bench", "Subject: new\n\nhello\n"))
            return 1;
        ::usleep(2100 * 1000);
        Run third = open_scan_info(mod, md);
        Run fourth = open_scan_info(mod, md);
        ::unlink((md + "/new/1900000000.Mnew.bench").c_str());
        struct stat st {
        };
        ::stat((md + "/modpop3d-cache").c_str(), &st);
        auto show = [](const char *what, const Run &r) {
            std::printf("%-30s %8.1f ms (cpu %7.1f ms)  messages=%u pop3_octets=%llu\n", what, r.ms,
                        r.cpu, r.count, static_cast<unsigned long long>(r.octets));
            auto p = r.scan_line.find("messages=");
            std::printf("    %s\n", p == std::string::npos ? "" : r.scan_line.c_str() + p);
        };
        show("first login (sizes computed):", first);
        show("second login (unchanged):", second);
        show("after 1 delivery:", third);
        show("next login (unchanged):", fourth);
        std::printf("size cache file: %lld bytes\n", static_cast<long long>(st.st_size));
        if (first.octets != second.octets || first.count != second.count ||
            third.count != second.count + 1 || fourth.octets != third.octets)
            std::printf("MISMATCH between the listings\n");
    }
    struct rusage ru {
    };
    ::getrusage(RUSAGE_SELF, &ru);
    std::printf("max RSS: %ld KiB\n", ru.ru_maxrss);
    std::error_code ec;
    if (keep == nullptr || *keep == '\0')
        std::filesystem::remove_all(root, ec);
    return 0;
}
