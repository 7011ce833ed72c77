// size_cache.cpp - load, validate and atomically rewrite modpop3d-cache.
#include "size_cache.hpp"

#include "unique_fd.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <sys/stat.h>
#include <type_traits>
#include <unistd.h>

namespace mailbox_maildir
{
namespace
{

constexpr std::string_view kMagic = "modpop3d-cache 4 ";
// A cache larger than this is not a cache we wrote for any sane maildir.
constexpr off_t kMaxCacheBytes = off_t(512) << 20;

// checksum - a 64-bit hash of `s`: four lanes, each taking every fourth
// 8-octet little-endian word, the tail zero-padded and the length in the
// seed, folded at the end. Each step is a bijection of its lane's state for
// a given word, and so is the fold for each lane, so a change confined to one
// word always changes the result. It replaced FNV-1a (cache version 3),
// whose one multiply per octet was a tenth of a cached 50,000-message login.
uint64_t checksum(std::string_view s)
{
    constexpr uint64_t k = 0x9e3779b97f4a7c15ull; // odd: multiplying is a bijection
    auto step = [](uint64_t h, uint64_t w) {
        h = (h ^ w) * k;
        return h ^ (h >> 29);
    };
    auto word = [](const char *p) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        if constexpr (std::endian::native == std::endian::big)
            w = __builtin_bswap64(w);
        return w;
    };
    const uint64_t seed = 0xcbf29ce484222325ull ^ (uint64_t(s.size()) * k);
    uint64_t h[4] = {seed, seed + 1, seed + 2, seed + 3};
    const char *p = s.data();
    std::size_t n = s.size();
    for (; n >= 32; p += 32, n -= 32)
        for (int i = 0; i < 4; ++i)
            h[i] = step(h[i], word(p + 8 * i));
    for (int i = 0; n >= 8; p += 8, n -= 8, ++i)
        h[i] = step(h[i], word(p));
    if (n > 0) {
        uint64_t w = 0; // zero padding; the length is in the seed
        for (std::size_t i = 0; i < n; ++i)
            w |= uint64_t(static_cast<unsigned char>(p[i])) << (8 * i);
        h[3] = step(h[3], w);
    }
    uint64_t r = h[0];
    for (int i = 1; i < 4; ++i)
        r = step(r, h[i]);
    return r ^ (r >> 32);
}

template <typename T> bool parse_num(std::string_view s, T &out, int base = 10)
{
    if (s.empty())
        return false;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc() && ptr == s.data() + s.size();
}

// next_field - cut the text before the first space off `line`.
std::string_view next_field(std::string_view &line)
{
    auto sp = line.find(' ');
    std::string_view f = line.substr(0, sp);
    line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    return f;
}

// take_number - the decimal number at p (a '-' only for signed types) and
// the one space after it; p moves past both. Overflow is refused.
template <typename T> bool take_number(const char *&p, const char *end, T &out)
{
    const char *q = p;
    bool negative = false;
    if constexpr (std::is_signed_v<T>) {
        if (q != end && *q == '-') {
            negative = true;
            ++q;
        }
    }
    const char *digits = q;
    uint64_t v = 0;
    // 19 digits never overflow; only a longer number needs the checks.
    while (q != end && static_cast<unsigned char>(*q - '0') < 10 && q - digits < 19) {
        v = v * 10 + uint64_t(*q - '0');
        ++q;
    }
    while (q != end && static_cast<unsigned char>(*q - '0') < 10) {
        if (__builtin_mul_overflow(v, uint64_t(10), &v) ||
            __builtin_add_overflow(v, uint64_t(*q - '0'), &v))
            return false;
        ++q;
    }
    if (q == digits || q == end || *q != ' ')
        return false;
    if constexpr (std::is_signed_v<T>) {
        const uint64_t limit = uint64_t(std::numeric_limits<T>::max()) + (negative ? 1 : 0);
        if (v > limit)
            return false;
        out = negative ? T(0 - v) : T(v);
    } else {
        if (v > std::numeric_limits<T>::max())
            return false;
        out = T(v);
    }
    p = q + 1;
    return true;
}

} // namespace

SizeCache::Load SizeCache::load(int dirfd, uid_t uid, std::string &why)
{
    records_.clear();
    index_.clear();
    indexed_ = false;
    buf_.reset();
    id_ = DirIdentity{};
    times_ = DirTimes{};
    UniqueFd fd(
        ::openat(dirfd, kCacheName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) {
        if (errno == ENOENT)
            return Load::missing;
        why = errno == ELOOP ? "symlink" : "open failed";
        return Load::invalid;
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        why = "not a regular file";
        return Load::invalid;
    }
    if (st.st_uid != uid || (st.st_mode & 077) != 0 || st.st_nlink != 1) {
        why = "wrong owner, mode or link count";
        return Load::invalid;
    }
    if (st.st_size > kMaxCacheBytes) {
        why = "too large";
        return Load::invalid;
    }
    // Not zeroed first: for a 100,000-message maildir that memset was a
    // quarter of a cached login.
    const std::size_t size = std::size_t(st.st_size);
    buf_ = std::make_unique_for_overwrite<char[]>(size);
    std::size_t got = 0;
    while (got < size) {
        ssize_t n = ::read(fd.get(), buf_.get() + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += std::size_t(n);
    }
    if (got != size) {
        why = "short read";
        buf_.reset();
        return Load::invalid;
    }
    std::string_view all(buf_.get(), size);
    auto fail = [&](const char *reason) {
        why = reason;
        records_.clear();
        buf_.reset();
        return Load::invalid;
    };
    if (all.substr(0, kMagic.size()) != kMagic)
        return fail("bad header or old version");
    const auto header_end = all.find('\n');
    if (header_end == std::string_view::npos)
        return fail("truncated");
    {
        std::string_view h = all.substr(kMagic.size(), header_end - kMagic.size());
        if (!parse_num(next_field(h), id_.dev) || !parse_num(next_field(h), id_.root_ino) ||
            !parse_num(next_field(h), id_.new_ino) || !parse_num(next_field(h), id_.cur_ino) ||
            !parse_num(next_field(h), id_.w_sizes) || id_.w_sizes > 1 ||
            !parse_num(next_field(h), times_.new_ns) || !parse_num(next_field(h), times_.cur_ns) ||
            !parse_num(next_field(h), times_.listed_at_ns) ||
            !parse_num(next_field(h), times_.complete) || times_.complete > 1 || !h.empty())
            return fail("bad header");
    }
    const std::size_t header_size = header_end + 1;
    // The trailer is the last line; everything before it is checksummed.
    if (all.empty() || all.back() != '\n')
        return fail("truncated");
    auto trailer_start = all.rfind('\n', all.size() - 2);
    if (trailer_start == std::string_view::npos || trailer_start + 1 < header_size)
        return fail("no trailer");
    std::string_view body = all.substr(0, trailer_start + 1);
    std::string_view trailer = all.substr(trailer_start + 1);
    trailer.remove_suffix(1);
    if (next_field(trailer) != "end")
        return fail("no trailer");
    std::size_t count = 0;
    uint64_t sum = 0;
    if (!parse_num(next_field(trailer), count) || !parse_num(next_field(trailer), sum, 16) ||
        !trailer.empty())
        return fail("bad trailer");
    if (sum != checksum(body))
        return fail("bad checksum");
    std::string_view rest = body.substr(header_size);
    // Every record is at least 10 octets: a larger count is a lie.
    if (count > body.size() / 10)
        return fail("record count mismatch");
    records_.reserve(count);
    std::size_t seen = 0;
    // One pass per record, numbers parsed in place: this loop runs for every
    // message of every cached login.
    const char *p = rest.data();
    const char *const end = p + rest.size(); // rest ends with '\n'
    while (p != end) {
        CacheRecord r;
        CacheEntry &e = r.entry;
        if (!take_number(p, end, e.pop3_size) || !take_number(p, end, e.file_size) ||
            !take_number(p, end, e.received) || !take_number(p, end, e.mtime_ns) || end - p < 3 ||
            (p[0] != 'n' && p[0] != 'c') || p[1] != ' ')
            return fail("bad record");
        r.dir = p[0] == 'c' ? 1 : 0;
        p += 2;
        const char *nl = static_cast<const char *>(std::memchr(p, '\n', std::size_t(end - p)));
        std::string_view name(p, std::size_t(nl - p));
        if (!CacheWriter::cacheable(name))
            return fail("bad record");
        // A POP3 size is between the file size and twice it (every octet a LF).
        if (e.pop3_size < e.file_size || e.pop3_size > 2 * e.file_size)
            return fail("impossible size");
        r.name = name;
        r.base_len = uint16_t(std::min(name.find(':'), name.size()));
        records_.push_back(r);
        ++seen;
        p = nl + 1;
    }
    if (seen != count)
        return fail("record count mismatch");
    return Load::loaded;
}

void SizeCache::build_index() const
{
    index_.reserve(records_.size());
    for (std::size_t i = 0; i < records_.size(); ++i)
        index_.put(records_[i].name.substr(0, records_[i].base_len), uint32_t(i));
    indexed_ = true;
}

const CacheEntry *SizeCache::find(std::string_view base) const
{
    if (!indexed_)
        build_index();
    const uint32_t *i = index_.find(base);
    return i == nullptr ? nullptr : &records_[*i].entry;
}

const CacheEntry *SizeCache::find(std::string_view base, uint64_t file_size, int64_t mtime_ns) const
{
    const CacheEntry *e = find(base);
    if (e == nullptr || e->file_size != file_size || e->mtime_ns != mtime_ns)
        return nullptr;
    return e;
}

CacheWriter::CacheWriter(const DirIdentity &id, const DirTimes &times)
{
    char h[256];
    int n = std::snprintf(
        h, sizeof h, "%llu %llu %llu %llu %u %lld %lld %lld %u\n",
        static_cast<unsigned long long>(id.dev), static_cast<unsigned long long>(id.root_ino),
        static_cast<unsigned long long>(id.new_ino), static_cast<unsigned long long>(id.cur_ino),
        id.w_sizes, static_cast<long long>(times.new_ns), static_cast<long long>(times.cur_ns),
        static_cast<long long>(times.listed_at_ns), times.complete);
    text_.append(kMagic);
    text_.append(h, std::size_t(n));
}

bool CacheWriter::cacheable(std::string_view base)
{
    if (base.empty() || base.size() > 255)
        return false;
    // No early exit: the compiler vectorises the whole check.
    unsigned bad = 0;
    for (unsigned char c : base)
        bad |= unsigned(static_cast<unsigned char>(c - 0x21) > 0x7e - 0x21);
    return bad == 0;
}

void CacheWriter::add(std::string_view full_name, uint8_t dir, const CacheEntry &e)
{
    // "POP3SIZE FILESIZE RECEIVED MTIME_NS c|n " without printf (once per
    // message on a first listing).
    auto put = [this](auto v) {
        char num[24]; // a 64-bit integer and its sign
        text_.append(num, std::to_chars(num, num + sizeof num, v).ptr);
        text_.push_back(' ');
    };
    put(e.pop3_size);
    put(e.file_size);
    put(e.received);
    put(e.mtime_ns);
    text_.push_back(dir != 0 ? 'c' : 'n');
    text_.push_back(' ');
    text_.append(full_name);
    text_.push_back('\n');
    ++records_;
}

int CacheWriter::commit(int dirfd, int tmpfd, const std::string &temp_name)
{
    char trailer[64];
    int n = std::snprintf(trailer, sizeof trailer, "end %zu %016llx\n", records_,
                          static_cast<unsigned long long>(checksum(text_)));
    text_.append(trailer, std::size_t(n));

    int wdir = tmpfd >= 0 ? tmpfd : dirfd;
    UniqueFd fd(::openat(wdir, temp_name.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600));
    if (!fd.valid())
        return errno;
    std::size_t off = 0;
    int err = 0;
    while (off < text_.size()) {
        ssize_t w = ::write(fd.get(), text_.data() + off, text_.size() - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = w < 0 ? errno : EIO;
            break;
        }
        off += std::size_t(w);
    }
    // No fsync: a cache lost or torn by a crash is detected by its checksum
    // and simply rebuilt; it never holds mail.
    if (err == 0 && ::close(fd.release()) != 0)
        err = errno;
    if (err == 0 && ::renameat(wdir, temp_name.c_str(), dirfd, kCacheName) != 0)
        err = errno;
    if (err != 0)
        ::unlinkat(wdir, temp_name.c_str(), 0);
    return err;
}

} // namespace mailbox_maildir
