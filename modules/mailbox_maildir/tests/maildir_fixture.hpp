// maildir_fixture.hpp - shared helpers of the mailbox_maildir tests: a
// temporary Maildir, Maildir-style delivery, an RAII mailbox handle, a sink
// that records chunks, and an independent POP3 size computation.
#pragma once

#include "module_harness.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace maildir_test
{

namespace fs = std::filesystem;
using modpop3d::testing::LoadedModule;
using modpop3d::testing::Settings;

// TempDir - a fresh directory under TMPDIR, removed with its contents.
class TempDir
{
  public:
    TempDir()
    {
        const char *base = std::getenv("TMPDIR");
        std::string tmpl =
            std::string(base != nullptr && base[0] != '\0' ? base : "/tmp") + "/mdtest.XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (::mkdtemp(buf.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        path_ = buf.data();
    }
    ~TempDir()
    {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const std::string &path() const { return path_; }

  private:
    std::string path_;
};

inline void write_file(const std::string &path, const std::string &content)
{
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::runtime_error("cannot create " + path);
    std::size_t off = 0;
    while (off < content.size()) {
        ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n <= 0) {
            ::close(fd);
            throw std::runtime_error("cannot write " + path);
        }
        off += std::size_t(n);
    }
    ::close(fd);
}

// read_file - the whole file ("" when it cannot be opened).
inline std::string read_file(const std::string &path)
{
    std::string out;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return out;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
        out.append(buf, std::size_t(n));
    ::close(fd);
    return out;
}

// make_maildir - root with new/ cur/ tmp/, mode 0700.
inline std::string make_maildir(const std::string &root)
{
    for (const char *d : {"", "/new", "/cur", "/tmp"})
        if (::mkdir((root + d).c_str(), 0700) != 0 && errno != EEXIST)
            throw std::runtime_error("mkdir failed");
    return root;
}

// deliver - write tmp/<name> then rename it into <sub>/<name>, as an MDA does.
inline void deliver(const std::string &md, const std::string &name, const std::string &content,
                    const std::string &sub = "new")
{
    std::string t = md + "/tmp/" + name;
    write_file(t, content);
    if (::rename(t.c_str(), (md + "/" + sub + "/" + name).c_str()) != 0)
        throw std::runtime_error("rename failed");
}

// pop3_size - independent reference: build the CRLF form and measure it.
inline uint64_t pop3_size(const std::string &raw)
{
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
            out += "\r\n";
        else
            out += raw[i];
    }
    return out.size();
}

inline void set_mtime(const std::string &path, time_t t)
{
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    ::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

// Mbox - one open mailbox; closed by the destructor.
class Mbox
{
  public:
    Mbox(LoadedModule &mod, const std::string &location)
        : mod_(mod), session_(mod.session({{"user", "test"}, {"home", "/nonexistent"}}))
    {
        status_ =
            mod_.mailbox().open(mod_.instance(), session_->get(), location.c_str(), 0, &mbox_);
        if (status_ != MODPOP3D_OK)
            mbox_ = nullptr;
    }
    ~Mbox() { close(); }
    Mbox(const Mbox &) = delete;
    Mbox &operator=(const Mbox &) = delete;

    int32_t status() const { return status_; }
    void *get() const { return mbox_; }
    const modpop3d_mailbox_ops &ops() const { return mod_.mailbox(); }
    void close()
    {
        if (mbox_ != nullptr)
            mod_.mailbox().close(mbox_);
        mbox_ = nullptr;
    }
    uint32_t scan()
    {
        uint32_t n = 0;
        if (mbox_ == nullptr) { // e.g. refused as locked: fail, do not crash
            ADD_FAILURE() << "scan() on a mailbox that did not open: status " << status_;
            return 0;
        }
        EXPECT_EQ(ops().scan(mbox_, &n), MODPOP3D_OK);
        return n;
    }
    modpop3d_msg_info info(uint32_t i)
    {
        modpop3d_msg_info mi{};
        mi.struct_size = sizeof mi;
        mi.uidl = "";
        if (mbox_ == nullptr) {
            ADD_FAILURE() << "info() on a mailbox that did not open: status " << status_;
            return mi;
        }
        EXPECT_EQ(ops().info(mbox_, i, &mi), MODPOP3D_OK);
        return mi;
    }
    std::string uidl(uint32_t i) { return info(i).uidl; }
    int32_t commit(const std::vector<uint8_t> &deleted, const std::vector<uint8_t> &retrieved)
    {
        modpop3d_commit c{};
        c.struct_size = sizeof c;
        c.count = uint32_t(deleted.size());
        c.deleted = deleted.data();
        c.retrieved = retrieved.data();
        if (mbox_ == nullptr)
            return status_;
        return ops().commit(mbox_, &c);
    }

  private:
    LoadedModule &mod_;
    std::unique_ptr<modpop3d::testing::HarnessSession> session_;
    void *mbox_ = nullptr;
    int32_t status_ = MODPOP3D_E_INTERNAL;
};

// RecordingSink - keeps every byte, the largest chunk seen, and answers
// PAUSE every `pause_every` bytes (0: never) or STOP after `stop_after`
// chunks (0: never), or `error` (when non-zero) on the first chunk.
// Listing - what a session lists: UIDLs and POP3 sizes, in order.
struct Listing {
    std::vector<std::string> uidls;
    std::vector<uint64_t> sizes;
    bool operator==(const Listing &) const = default;
};

// list - open `md` in a session of `mod` and take its listing.
inline Listing list(LoadedModule &mod, const std::string &md)
{
    Mbox mb(mod, md);
    EXPECT_EQ(mb.status(), MODPOP3D_OK);
    Listing l;
    uint32_t n = mb.scan();
    for (uint32_t i = 0; i < n; ++i) {
        auto mi = mb.info(i);
        l.uidls.emplace_back(mi.uidl);
        l.sizes.push_back(mi.size);
    }
    return l;
}

struct RecordingSink {
    std::string data;
    std::size_t max_chunk = 0, chunks = 0, pause_every = 0, since_pause = 0, stop_after = 0;
    int32_t error = 0;
    modpop3d_sink sink{sizeof(modpop3d_sink), this, &RecordingSink::write};

    static int32_t write(void *ctx, const void *p, size_t len)
    {
        auto *s = static_cast<RecordingSink *>(ctx);
        s->data.append(static_cast<const char *>(p), len);
        s->max_chunk = std::max(s->max_chunk, len);
        ++s->chunks;
        if (s->error != 0)
            return s->error;
        if (s->stop_after != 0 && s->chunks >= s->stop_after)
            return MODPOP3D_STOP;
        s->since_pause += len;
        if (s->pause_every != 0 && s->since_pause >= s->pause_every) {
            s->since_pause = 0;
            return MODPOP3D_PAUSE;
        }
        return MODPOP3D_OK;
    }
};

// retrieve - drive retrieve() to the end through `sink`, resuming after each
// PAUSE at the offset reached; returns the final status. Bounded resumptions.
inline int32_t retrieve(Mbox &mb, uint32_t index, RecordingSink &sink, uint64_t offset = 0)
{
    for (int rounds = 0; rounds < 1000000; ++rounds) {
        int32_t st = mb.ops().retrieve(mb.get(), index, offset + sink.data.size(), &sink.sink);
        if (st != MODPOP3D_PAUSE)
            return st;
    }
    return MODPOP3D_E_INTERNAL;
}

inline std::string retrieve_string(Mbox &mb, uint32_t index, int32_t *status = nullptr)
{
    RecordingSink s;
    int32_t st = retrieve(mb, index, s);
    if (status != nullptr)
        *status = st;
    return s.data;
}

// log_has - some captured log line contains every one of `parts`.
inline bool log_has(const LoadedModule &mod, std::initializer_list<std::string> parts)
{
    for (const std::string &line : mod.log_lines()) {
        bool all = true;
        for (const std::string &p : parts)
            all = all && line.find(p) != std::string::npos;
        if (all)
            return true;
    }
    return false;
}

// last_log - the last captured log line containing `part`, or "".
inline std::string last_log(const LoadedModule &mod, const std::string &part)
{
    std::string found;
    for (const std::string &line : mod.log_lines())
        if (line.find(part) != std::string::npos)
            found = line;
    return found;
}

inline std::vector<std::string> list_dir(const std::string &dir)
{
    std::vector<std::string> v;
    for (const auto &e : fs::directory_iterator(dir))
        v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
}

} // namespace maildir_test
