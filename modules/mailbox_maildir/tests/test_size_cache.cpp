// test_size_cache.cpp - SizeCache's loader on files CacheWriter wrote (so the
// checksum is right and only the parser decides): numbers at their limits
// round-trip, and a record it cannot take makes the whole cache invalid.
#include "../size_cache.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits>
#include <string>
#include <unistd.h>

using namespace mailbox_maildir;

namespace
{

struct Dir {
    Dir()
    {
        char tmpl[] = "/tmp/size-cache-test.XXXXXX";
        path = ::mkdtemp(tmpl);
        fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    ~Dir()
    {
        ::unlinkat(fd, kCacheName, 0);
        ::close(fd);
        ::rmdir(path.c_str());
    }
    std::string path;
    int fd = -1;
};

SizeCache::Load write_and_load(const Dir &d, CacheWriter &w, SizeCache &c, std::string &why)
{
    EXPECT_EQ(w.commit(d.fd, -1, "cache.tmp"), 0);
    return c.load(d.fd, ::geteuid(), why);
}

} // namespace

TEST(SizeCacheLoader, RecordsRoundTripAtTheLimitsOfTheirNumbers)
{
    Dir d;
    DirIdentity id{1, 2, 3, 4, 1};
    DirTimes times{-5, 6, 7, 1};
    CacheWriter w(id, times);
    constexpr int64_t lo = std::numeric_limits<int64_t>::min();
    constexpr int64_t hi = std::numeric_limits<int64_t>::max();
    w.add("a.host:2,S", 1, CacheEntry{uint64_t(1) << 63, uint64_t(1) << 62, lo, hi});
    w.add("b.host", 0, CacheEntry{0, 0, -1, 0});
    w.add(std::string(255, 'z'), 0,
          CacheEntry{18446744073709551614ull, 9223372036854775807ull, 0, lo});
    SizeCache c;
    std::string why;
    ASSERT_EQ(write_and_load(d, w, c, why), SizeCache::Load::loaded) << why;
    EXPECT_EQ(c.identity(), id);
    EXPECT_EQ(c.times().new_ns, -5);
    ASSERT_EQ(c.size(), 3u);
    const auto &r = c.records();
    EXPECT_EQ(r[0].name, "a.host:2,S");
    EXPECT_EQ(r[0].base_len, 6u);
    EXPECT_EQ(r[0].dir, 1);
    EXPECT_EQ(r[0].entry.pop3_size, uint64_t(1) << 63);
    EXPECT_EQ(r[0].entry.received, lo);
    EXPECT_EQ(r[0].entry.mtime_ns, hi);
    EXPECT_EQ(r[1].entry.received, -1);
    EXPECT_EQ(r[1].base_len, 6u);
    EXPECT_EQ(r[2].entry.pop3_size, 18446744073709551614ull);
    EXPECT_EQ(r[2].entry.mtime_ns, lo);
    ASSERT_NE(c.find("a.host"), nullptr);
    EXPECT_EQ(c.find("a.host")->file_size, uint64_t(1) << 62);
    EXPECT_EQ(c.find("a.host:2,S"), nullptr); // found by base name only
}

TEST(SizeCacheLoader, AnyRecordItCannotTakeMakesTheCacheInvalid)
{
    // The second "record" rides in the first one's name, so the checksum
    // covers it; the record count is then wrong too, but the parser must
    // refuse the line before that is looked at.
    const std::vector<std::string> bad_lines = {
        "18446744073709551616 1 1 1 n y", // pop3 size overflows uint64
        "-1 1 1 1 n y",                   // a sign on an unsigned field
        "+1 1 1 1 n y",                   // '+' is not a number here
        "2 1 9223372036854775808 1 n y",  // received overflows int64
        "2 1 1 -9223372036854775809 n y", // mtime below int64
        "2 1 1 1x n y",                   // junk after digits
        "2 1  1 1 n y",                   // empty field
        "2 1 1 1 x y",                    // neither n nor c
        "2 1 1 1 n ",                     // no name
        "2 1 1 1 n two words",            // space in the name
        "5 1 1 1 n y",                    // POP3 size over twice the file size
    };
    for (const std::string &bad : bad_lines) {
        Dir d;
        CacheWriter w(DirIdentity{}, DirTimes{});
        w.add("x\n" + bad, 0, CacheEntry{2, 1, 1, 1});
        SizeCache c;
        std::string why;
        EXPECT_EQ(write_and_load(d, w, c, why), SizeCache::Load::invalid) << bad;
        EXPECT_TRUE(why == "bad record" || why == "impossible size") << bad << ": " << why;
        EXPECT_EQ(c.size(), 0u);
    }
    // The control: the same shape with a good second line loads as far as
    // the count (one record announced, two present).
    Dir d;
    CacheWriter w(DirIdentity{}, DirTimes{});
    w.add("x\n2 1 -9223372036854775808 1 c y", 0, CacheEntry{2, 1, 1, 1});
    SizeCache c;
    std::string why;
    EXPECT_EQ(write_and_load(d, w, c, why), SizeCache::Load::invalid);
    EXPECT_EQ(why, "record count mismatch");
}

TEST(SizeCacheLoader, ACorruptedOctetAnywhereFailsTheChecksum)
{
    Dir d;
    CacheWriter w(DirIdentity{9, 8, 7, 6, 0}, DirTimes{1, 2, 3, 0});
    for (int i = 0; i < 40; ++i)
        w.add("m" + std::to_string(i) + ".host", i % 2, CacheEntry{12, 10, i, i});
    ASSERT_EQ(w.commit(d.fd, -1, "cache.tmp"), 0);
    std::string path = d.path + "/" + kCacheName;
    int fd = ::open(path.c_str(), O_RDONLY);
    std::string good(1 << 16, '\0');
    good.resize(std::size_t(::read(fd, good.data(), good.size())));
    ::close(fd);
    const std::size_t body = good.rfind("end ");
    ASSERT_NE(body, std::string::npos);
    // Every octet of the checksummed part, changed to a digit (so that most
    // lines still parse): the checksum alone must catch it.
    for (std::size_t i = 0; i < body; ++i) {
        std::string bad = good;
        bad[i] = bad[i] == '7' ? '8' : '7';
        ::unlinkat(d.fd, kCacheName, 0);
        fd = ::openat(d.fd, kCacheName, O_WRONLY | O_CREAT | O_EXCL, 0600);
        ASSERT_EQ(::write(fd, bad.data(), bad.size()), ssize_t(bad.size()));
        ::close(fd);
        SizeCache c;
        std::string why;
        ASSERT_EQ(c.load(d.fd, ::geteuid(), why), SizeCache::Load::invalid) << i;
    }
}
