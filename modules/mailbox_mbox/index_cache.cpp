// index_cache.cpp - binary format, little-endian:
//   "MP3MBXI1" | u32 version=1 | u32 format | u32 uidl_style | u32 0 |
//   u64 dev | u64 ino | u64 size | i64 mtime_sec | i64 mtime_nsec |
//   head[16] | tail[16] | u64 hidden_end | u64 count |
//   count x { u64 from_off, body_off, raw_end, size, i64 received, digest[16] } |
//   md5 of everything before [16]
#include "index_cache.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mbox
{
namespace
{

constexpr char magic[8] = {'M', 'P', '3', 'M', 'B', 'X', 'I', '1'};
constexpr std::size_t header_size = 8 + 4 * 4 + 5 * 8 + 16 + 16 + 8 + 8;
constexpr std::size_t rec_size = 5 * 8 + 16;

void put64(std::string &b, uint64_t v)
{
    for (int i = 0; i < 8; ++i)
        b += static_cast<char>(static_cast<uint8_t>(v >> (8 * i)));
}
void put32(std::string &b, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        b += static_cast<char>(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}
uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

bool write_all(int fd, const char *p, std::size_t n)
{
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

} // namespace

Digest region_md5(int fd, uint64_t off, uint64_t len)
{
    md5::Hasher m;
    char buf[8192];
    while (len > 0) {
        std::size_t want = len < sizeof buf ? static_cast<std::size_t>(len) : sizeof buf;
        ssize_t n = ::pread(fd, buf, want, static_cast<off_t>(off));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw IoError("read", errno);
        }
        if (n == 0)
            break; // shorter than expected: the digest will not match
        m.update(buf, static_cast<std::size_t>(n));
        off += static_cast<uint64_t>(n);
        len -= static_cast<uint64_t>(n);
    }
    return m.finish();
}

bool cache_load(const std::string &path, CacheData &out, std::string &why)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        why = errno == ENOENT ? "absent" : std::string("open: ") + std::strerror(errno);
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0) {
        ::close(fd);
        why = "not a private regular file of ours";
        return false;
    }
    auto fsize = static_cast<uint64_t>(st.st_size);
    if (fsize < header_size + 16 || (fsize - header_size - 16) % rec_size != 0) {
        ::close(fd);
        why = "bad length";
        return false;
    }
    std::vector<unsigned char> buf(static_cast<std::size_t>(fsize));
    std::size_t got = 0;
    while (got < buf.size()) {
        ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (got != buf.size()) {
        why = "short read";
        return false;
    }
    Digest sum = md5::digest(buf.data(), buf.size() - 16);
    if (std::memcmp(sum.data(), buf.data() + buf.size() - 16, 16) != 0 ||
        std::memcmp(buf.data(), magic, 8) != 0 || get32(buf.data() + 8) != 1) {
        why = "checksum or magic mismatch";
        return false;
    }
    const unsigned char *p = buf.data() + 12;
    out.format = get32(p);
    out.uidl_style = get32(p + 4);
    p += 12;
    out.dev = get64(p);
    out.ino = get64(p + 8);
    out.size = get64(p + 16);
    out.mtime_sec = static_cast<int64_t>(get64(p + 24));
    out.mtime_nsec = static_cast<int64_t>(get64(p + 32));
    p += 40;
    std::memcpy(out.head.data(), p, 16);
    std::memcpy(out.tail.data(), p + 16, 16);
    p += 32;
    out.hidden_end = get64(p);
    uint64_t count = get64(p + 8);
    p += 16;
    if (count != (fsize - header_size - 16) / rec_size) {
        why = "bad count";
        return false;
    }
    out.msgs.clear();
    out.msgs.reserve(static_cast<std::size_t>(count));
    uint64_t prev_end = out.hidden_end;
    for (uint64_t i = 0; i < count; ++i, p += rec_size) {
        MsgRec r;
        r.from_off = get64(p);
        r.body_off = get64(p + 8);
        r.raw_end = get64(p + 16);
        r.size = get64(p + 24);
        r.received = static_cast<int64_t>(get64(p + 32));
        std::memcpy(r.digest.data(), p + 40, 16);
        // Sanity: ordered, inside the indexed part.
        if (r.from_off < prev_end || r.body_off <= r.from_off || r.raw_end < r.body_off ||
            r.raw_end > out.size) {
            why = "inconsistent record";
            return false;
        }
        prev_end = r.raw_end;
        out.msgs.push_back(r);
    }
    return true;
}

bool cache_save(const std::string &path, const CacheData &in, std::string &why)
{
    std::string tmp = path + ".tmp";
    (void)::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        why = std::string("create: ") + std::strerror(errno);
        return false;
    }
    md5::Hasher sum;
    std::string b;
    b.append(magic, 8);
    put32(b, 1);
    put32(b, in.format);
    put32(b, in.uidl_style);
    put32(b, 0);
    put64(b, in.dev);
    put64(b, in.ino);
    put64(b, in.size);
    put64(b, static_cast<uint64_t>(in.mtime_sec));
    put64(b, static_cast<uint64_t>(in.mtime_nsec));
    b.append(reinterpret_cast<const char *>(in.head.data()), 16);
    b.append(reinterpret_cast<const char *>(in.tail.data()), 16);
    put64(b, in.hidden_end);
    put64(b, in.msgs.size());
    bool ok = true;
    for (const auto &r : in.msgs) {
        put64(b, r.from_off);
        put64(b, r.body_off);
        put64(b, r.raw_end);
        put64(b, r.size);
        put64(b, static_cast<uint64_t>(r.received));
        b.append(reinterpret_cast<const char *>(r.digest.data()), 16);
        if (b.size() >= (1u << 20)) {
            sum.update(b.data(), b.size());
            ok = ok && write_all(fd, b.data(), b.size());
            b.clear();
        }
    }
    sum.update(b.data(), b.size());
    Digest d = sum.finish();
    b.append(reinterpret_cast<const char *>(d.data()), 16);
    ok = ok && write_all(fd, b.data(), b.size());
    if (::close(fd) != 0)
        ok = false;
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        why = std::string("write: ") + std::strerror(errno);
        (void)::unlink(tmp.c_str());
        return false;
    }
    return true;
}

} // namespace mbox
