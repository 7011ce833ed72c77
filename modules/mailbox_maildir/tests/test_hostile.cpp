// test_hostile.cpp - hostile maildir contents within bounded memory: 200,000
// empty messages, a 16 MiB header line, files truncated or swapped for a
// directory or a symlink behind a trusted size cache.
#include "maildir_fixture.hpp"

#include <malloc.h>
#include <sys/resource.h>

using namespace maildir_test;
using modpop3d::testing::module_path;

namespace
{

// CountingSink - counts bytes and the largest chunk, keeps nothing.
struct CountingSink {
    uint64_t bytes = 0;
    std::size_t max_chunk = 0;
    char last = 0;
    modpop3d_sink sink{sizeof(modpop3d_sink), this, &CountingSink::write};
    static int32_t write(void *ctx, const void *p, size_t len)
    {
        auto *s = static_cast<CountingSink *>(ctx);
        s->bytes += len;
        s->max_chunk = std::max(s->max_chunk, len);
        if (len > 0)
            s->last = static_cast<const char *>(p)[len - 1];
        return MODPOP3D_OK;
    }
};

int32_t retrieve_count(Mbox &mb, uint32_t index, CountingSink &s)
{
    return mb.ops().retrieve(mb.get(), index, 0, &s.sink);
}

std::size_t heap_in_use()
{
    struct mallinfo2 mi = ::mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

} // namespace

TEST(MaildirHostile, TwoHundredThousandEmptyMessagesInBoundedMemory)
{
    // The bound, per listed message, for what a session keeps: its Msg record
    // (56 octets), its name in the arena (~24), and the vector's slack
    // (at most the record again): ~140 octets; 256 leaves room for the
    // allocator. A cache of N names never costs more than the listing (the
    // loaded file, ~50 octets a line, and the index, ~72 a name, are freed
    // when scan() returns). So 200,000 messages must stay under 51.2 MB of
    // heap, and 200,000 x 512 octets = 100 MB of peak RSS growth.
    constexpr std::size_t kCount = 200000;
    constexpr std::size_t kKeptPerMessage = 256, kPeakPerMessage = 512;
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    {
        std::string dir = md + "/new/";
        for (std::size_t i = 0; i < kCount; ++i) {
            std::string p = dir + "1700000000.N" + std::to_string(i) + ".h";
            int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            ASSERT_GE(fd, 0) << p;
            ::close(fd);
        }
    }
    LoadedModule mod(module_path(), {});
    for (int round = 0; round < 2; ++round) { // computed, then from the cache
        struct rusage before {
        };
        ::getrusage(RUSAGE_SELF, &before);
        const std::size_t heap0 = heap_in_use();
        Mbox mb(mod, md);
        ASSERT_EQ(mb.scan(), kCount);
        const std::size_t heap1 = heap_in_use();
        struct rusage after {
        };
        ::getrusage(RUSAGE_SELF, &after);
        EXPECT_EQ(mb.info(0).size, 0u);
        EXPECT_EQ(mb.info(kCount - 1).size, 0u);
        std::string line = last_log(mod, "event=scan");
        EXPECT_NE(line.find(round == 0 ? "size_computed=200000" : "size_from_cache=200000"),
                  std::string::npos)
            << line;
        std::printf("round %d: heap kept %zu octets (%zu per message), peak RSS growth %ld KiB\n",
                    round, heap1 - std::min(heap0, heap1),
                    (heap1 - std::min(heap0, heap1)) / kCount,
                    long(after.ru_maxrss - before.ru_maxrss));
        if (!kAsan) { // ASan's redzones and quarantine change every figure
            EXPECT_LT(heap1 - std::min(heap0, heap1), kCount * kKeptPerMessage)
                << "round " << round;
            EXPECT_LT(std::size_t(after.ru_maxrss - before.ru_maxrss) * 1024,
                      kCount * kPeakPerMessage)
                << "round " << round;
        }
    }
}

TEST(MaildirHostile, HugeHeaderLineIsCountedAndStreamedInBoundedChunks)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    // One 16 MiB header line, then a body without a final newline.
    std::string huge = "X-Huge: " + std::string(16u << 20, 'h') + "\n\nbody";
    deliver(md, "1700000001.huge.host", huge);
    LoadedModule mod(module_path(), {});
    for (int round = 0; round < 2; ++round) {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.scan(), 1u);
        EXPECT_EQ(mb.info(0).size, pop3_size(huge));
        CountingSink s;
        ASSERT_EQ(retrieve_count(mb, 0, s), MODPOP3D_OK);
        EXPECT_EQ(s.bytes, huge.size());
        EXPECT_LE(s.max_chunk, 64u * 1024);
        EXPECT_EQ(s.last, 'y');
    }
}

TEST(MaildirHostile, TruncatedBehindTheCacheIsServedAsItIsAndRecounted)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    const std::string full = "Subject: x\n\nline one\nline two\n";
    deliver(md, "1700000001.a.host", full);
    LoadedModule mod(module_path(), {});
    Mbox(mod, md).scan(); // builds the cache
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 1u);
    EXPECT_EQ(mb.info(0).size, pop3_size(full));
    EXPECT_NE(last_log(mod, "event=scan").find("cache_trusted=yes"), std::string::npos);
    ASSERT_EQ(::truncate((md + "/new/1700000001.a.host").c_str(), 15), 0);
    int32_t st = MODPOP3D_E_INTERNAL;
    EXPECT_EQ(retrieve_string(mb, 0, &st), full.substr(0, 15)); // no hang, no overread
    EXPECT_EQ(st, MODPOP3D_OK);
    EXPECT_TRUE(log_has(mod, {"event=message_changed",
                              "listed_bytes=" + std::to_string(full.size()), "file_bytes=15"}));
    mb.close();
    Mbox again(mod, md);
    ASSERT_EQ(again.scan(), 1u);
    EXPECT_EQ(again.info(0).size, pop3_size(full.substr(0, 15)));
}

TEST(MaildirHostile, KnownNameSwappedForDirectoryOrSymlinkIsNeverFollowed)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    std::string secret = t.path() + "/secret";
    write_file(secret, "top secret\n");
    deliver(md, "1700000001.a.host", "a\n");
    deliver(md, "1700000002.b.host", "b\n", "cur");
    deliver(md, "1700000003.c.host", "c\n");
    LoadedModule mod(module_path(), {});
    ASSERT_EQ(Mbox(mod, md).scan(), 3u); // all three now in the cache

    // Swapped within a session, after the scan: refused at RETR.
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.scan(), 3u);
        ASSERT_EQ(::unlink((md + "/new/1700000001.a.host").c_str()), 0);
        ASSERT_EQ(::symlink(secret.c_str(), (md + "/new/1700000001.a.host").c_str()), 0);
        ASSERT_EQ(::unlink((md + "/cur/1700000002.b.host").c_str()), 0);
        ASSERT_EQ(::mkdir((md + "/cur/1700000002.b.host").c_str(), 0700), 0);
        int32_t st = MODPOP3D_OK;
        EXPECT_EQ(retrieve_string(mb, 0, &st), "");
        EXPECT_EQ(st, MODPOP3D_E_PERM);
        EXPECT_EQ(retrieve_string(mb, 1, &st), "");
        EXPECT_EQ(st, MODPOP3D_E_PERM);
        EXPECT_EQ(retrieve_string(mb, 2, &st), "c\n");
    }
    // The next login, with the cache still trusted, lists neither.
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 1u);
    EXPECT_EQ(mb.uidl(0), "1700000003.c.host");
    std::string line = last_log(mod, "event=scan");
    EXPECT_NE(line.find("cache_trusted=yes"), std::string::npos) << line;
    EXPECT_NE(line.find("skipped_symlink=1"), std::string::npos) << line;
    EXPECT_NE(line.find("skipped_not_regular=1"), std::string::npos) << line;
    EXPECT_EQ(read_file(secret), "top secret\n");
}
