// mbox_test_util.hpp - helpers shared by the mailbox_mbox tests: temporary
// directories, an independent mbox writer (the MDA side), an independent
// size computation, and a thin wrapper over the module's ops.
#pragma once

#include "module_harness.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace mboxtest
{

using modpop3d::testing::LoadedModule;
using modpop3d::testing::Settings;

struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/mbox-test-XXXXXX";
        char *p = mkdtemp(tmpl);
        if (p == nullptr)
            std::abort();
        path = p;
    }
    ~TempDir()
    {
        std::string cmd = "rm -rf '" + path + "'";
        if (std::system(cmd.c_str()) != 0)
            std::fprintf(stderr, "could not remove %s\n", path.c_str());
    }
    std::string operator/(const std::string &name) const { return path + "/" + name; }
};

inline void write_file(const std::string &path, const std::string &data, mode_t mode = 0600)
{
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fd);
}

inline std::string read_file(const std::string &path)
{
    std::string out;
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0)
        return "<missing>";
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
        out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
}

inline bool exists(const std::string &path)
{
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

// quote - what an MDA writes for one body: mboxo quotes "From " lines,
// mboxrd quotes ">*From " lines.
inline std::string quote(const std::string &body, bool mboxrd)
{
    std::string out;
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t nl = body.find('\n', pos);
        std::size_t end = nl == std::string::npos ? body.size() : nl + 1;
        std::string line = body.substr(pos, end - pos);
        std::size_t gt = 0;
        while (gt < line.size() && line[gt] == '>')
            ++gt;
        bool from = line.compare(gt, 5, "From ") == 0;
        if (from && (gt == 0 || mboxrd))
            out += '>';
        out += line;
        pos = end;
    }
    return out;
}

// entry - one delivered message as the MDA writes it: From_ line, quoted
// body, and the empty separator line.
inline std::string
entry(const std::string &body, bool mboxrd = false,
      const std::string &from = "From sender@example.org Mon Jan  6 10:00:00 2025")
{
    std::string b = quote(body, mboxrd);
    if (!b.empty() && b.back() != '\n')
        b += '\n';
    return from + "\n" + b + "\n";
}

// pop3_size - the octets a POP3 client receives: LF -> CRLF.
inline uint64_t pop3_size(const std::string &s)
{
    uint64_t n = s.size();
    for (std::size_t i = 0; i < s.size(); ++i)
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            ++n;
    return n;
}

struct Open {
    LoadedModule &mod;
    std::unique_ptr<modpop3d::testing::HarnessSession> session;
    void *mb = nullptr;
    int32_t status = MODPOP3D_E_INTERNAL;
    uint32_t count = 0;
    Open(LoadedModule &m, const std::string &path) : mod(m)
    {
        session = mod.session({{"user", "alice"}, {"home", "/nonexistent"}});
        status = mod.mailbox().open(mod.instance(), session->get(), path.c_str(), 0, &mb);
        if (status == MODPOP3D_OK) {
            int32_t rc = mod.mailbox().scan(mb, &count);
            if (rc != MODPOP3D_OK) {
                status = rc;
                mod.mailbox().close(mb);
                mb = nullptr;
            }
        }
    }
    ~Open() { close(); }
    void close()
    {
        if (mb != nullptr)
            mod.mailbox().close(mb);
        mb = nullptr;
    }
    modpop3d_msg_info info(uint32_t i)
    {
        modpop3d_msg_info mi{};
        mi.struct_size = sizeof mi;
        EXPECT_EQ(mod.mailbox().info(mb, i, &mi), MODPOP3D_OK);
        return mi;
    }
    std::string uidl(uint32_t i) { return info(i).uidl; }
    std::vector<std::string> uidls()
    {
        std::vector<std::string> v;
        for (uint32_t i = 0; i < count; ++i)
            v.push_back(uidl(i));
        return v;
    }
    std::string get(uint32_t i, std::size_t pause_every = 0)
    {
        int32_t st = MODPOP3D_E_INTERNAL;
        std::string s = mod.retrieve_all(mb, i, pause_every, &st);
        EXPECT_EQ(st, MODPOP3D_OK);
        return s;
    }
    int32_t commit(const std::vector<uint8_t> &deleted)
    {
        std::vector<uint8_t> retrieved(deleted.size(), 0);
        modpop3d_commit c{sizeof(modpop3d_commit), static_cast<uint32_t>(deleted.size()),
                          deleted.data(), retrieved.data()};
        return mod.mailbox().commit(mb, &c);
    }
};

inline Settings fast_locks(Settings extra = {})
{
    bool has_timeout = false;
    for (auto &kv : extra)
        has_timeout = has_timeout || kv.first == "lock-timeout";
    if (!has_timeout)
        extra.push_back({"lock-timeout", "300ms"});
    return extra;
}

} // namespace mboxtest
