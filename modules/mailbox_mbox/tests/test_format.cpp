// test_format.cpp - parsing, unquoting, exact sizes, streaming retrieve and
// UIDLs of mailbox_mbox, against contents and sizes computed independently.
#include "mbox_test_util.hpp"

#include <algorithm>

using namespace mboxtest;

namespace
{

struct Fixture : ::testing::Test {
    TempDir dir;
    std::string box = dir / "mbox";
};

// Checks every message of `box` against `bodies`: content and size.
void expect_messages(LoadedModule &mod, const std::string &box,
                     const std::vector<std::string> &bodies, std::size_t pause_every = 0)
{
    Open o(mod, box);
    ASSERT_EQ(o.status, MODPOP3D_OK);
    ASSERT_EQ(o.count, bodies.size());
    for (uint32_t i = 0; i < o.count; ++i) {
        EXPECT_EQ(o.get(i, pause_every), bodies[i]) << "message " << i;
        EXPECT_EQ(o.info(i).size, pop3_size(bodies[i])) << "message " << i;
    }
}

} // namespace

TEST_F(Fixture, EmptyFileIsAnEmptyMaildrop)
{
    write_file(box, "");
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    Open o(mod, box);
    ASSERT_EQ(o.status, MODPOP3D_OK);
    EXPECT_EQ(o.count, 0u);
}

TEST_F(Fixture, MissingFileIsNoent)
{
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    Open o(mod, box);
    EXPECT_EQ(o.status, MODPOP3D_E_NOENT);
}

TEST_F(Fixture, RefusesSymlinksDirectoriesFifosForeignOwnersAndJunk)
{
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    write_file(dir / "real", entry("a\n"));
    ASSERT_EQ(symlink((dir / "real").c_str(), box.c_str()), 0);
    EXPECT_EQ(Open(mod, box).status, MODPOP3D_E_PERM);
    EXPECT_EQ(Open(mod, dir.path).status, MODPOP3D_E_PERM);
    ASSERT_EQ(mkfifo((dir / "fifo").c_str(), 0600), 0);
    EXPECT_EQ(Open(mod, dir / "fifo").status, MODPOP3D_E_PERM);
    if (geteuid() == 0) { // only root can give a file away
        write_file(dir / "foreign", entry("a\n"));
        ASSERT_EQ(chown((dir / "foreign").c_str(), geteuid() + 4242, 0), 0);
        EXPECT_EQ(Open(mod, dir / "foreign").status, MODPOP3D_E_PERM);
    }
    ASSERT_EQ(link((dir / "real").c_str(), (dir / "hard").c_str()), 0);
    EXPECT_EQ(Open(mod, dir / "hard").status, MODPOP3D_E_PERM);
    write_file(dir / "junk", "this is not\nan mbox\n");
    EXPECT_EQ(Open(mod, dir / "junk").status, MODPOP3D_E_CORRUPT);
    EXPECT_EQ(Open(mod, "relative/path").status, MODPOP3D_E_PERM);
}

namespace
{
std::string binary_body()
{
    static const char lit[] = "Subject: binary\n\n\x80\xff\xfe 8-bit \0 NUL \0\n";
    return std::string(lit, sizeof lit - 1);
}
} // namespace

TEST_F(Fixture, RoundTripsTrickyBodiesInBothFormats)
{
    std::vector<std::string> bodies = {
        "Subject: dots\n\n.\n..leading dots\n.\nend\n",
        "Subject: from lines\n\nFrom the start\n>From quoted once\n>>From quoted twice\n"
        "From\n>From\nFrom  two spaces\n",
        binary_body(),
        "Subject: crlf\r\n\r\nalready CRLF\r\nmixed\nend\r\n",
        "Subject: empty body\n\n",
        "",
        "Subject: blank lines at the end\n\nbody\n\n\n",
    };
    for (bool rd : {false, true}) {
        std::string data;
        for (auto &b : bodies)
            data += entry(b, rd);
        write_file(box, data);
        LoadedModule mod(modpop3d::testing::module_path(),
                         fast_locks({{"format", rd ? "mboxrd" : "mboxo"}, {"index", "no"}}));
        std::vector<std::string> expect = bodies;
        if (!rd) // mboxo cannot tell an original ">From " from a quoted "From "
            expect[1] = "Subject: from lines\n\nFrom the start\nFrom quoted once\n"
                        ">>From quoted twice\nFrom\n>From\nFrom  two spaces\n";
        SCOPED_TRACE(rd ? "mboxrd" : "mboxo");
        expect_messages(mod, box, expect);
        expect_messages(mod, box, expect, 7); // tiny pauses: state across chunks
    }
}

TEST_F(Fixture, SeparatorRulesAndLastMessageWithoutNewline)
{
    // "From " not after an empty line is content; the last message has no
    // final newline and is served as it is.
    std::string data = "From a Mon Jan  6 10:00:00 2025\nX: 1\n\nbody\nFrom inside\n\n"
                       "From b Mon Jan  6 10:00:01 2025\r\nX: 2\r\n\r\nno final newline";
    write_file(box, data);
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks({{"index", "no"}}));
    expect_messages(mod, box, {"X: 1\n\nbody\nFrom inside\n", "X: 2\r\n\r\nno final newline"});
}

TEST_F(Fixture, LeadingEmptyLinesAreAllowed)
{
    write_file(box, "\n\n" + entry("X: 1\n\nb\n"));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    expect_messages(mod, box, {"X: 1\n\nb\n"});
}

TEST_F(Fixture, MboxrdLongRunOfQuotes)
{
    std::string body =
        "X: 1\n\n" + std::string(300000, '>') + "From x\n" + std::string(200000, '>') + "Fro\n>>>";
    write_file(box, entry(body, true));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks({{"format", "mboxrd"}}));
    expect_messages(mod, box, {body + "\n"}, 4096);
}

TEST_F(Fixture, CclientPseudoMessageIsHiddenAndKept)
{
    std::string cc =
        "From MAILER-DAEMON Mon Jan  6 09:00:00 2025\n"
        "Date: Mon, 6 Jan 2025 09:00:00 +0000\n"
        "From: Mail System Internal Data <MAILER-DAEMON@host>\n"
        "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
        "X-IMAP: 1736150400 0000000002\n"
        "Status: RO\n\nThis text is part of the internal format of your mail folder.\n\n";
    std::string m1 = entry("X: 1\n\none\n"), m2 = entry("X: 2\n\ntwo\n");
    write_file(box, cc + m1 + m2);
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    {
        Open o(mod, box);
        ASSERT_EQ(o.status, MODPOP3D_OK);
        ASSERT_EQ(o.count, 2u);
        EXPECT_EQ(o.get(0), "X: 1\n\none\n");
        ASSERT_EQ(o.commit({1, 0}), MODPOP3D_OK);
    }
    EXPECT_EQ(read_file(box), cc + m2);
    LoadedModule shown(modpop3d::testing::module_path(), fast_locks({{"hide-cclient", "no"}}));
    Open o(shown, box);
    EXPECT_EQ(o.count, 2u);
}

TEST_F(Fixture, ResumesAtAnyOffsetAndHonoursStop)
{
    std::string body = "X: 1\n\n";
    for (int i = 0; i < 20000; ++i)
        body += (i % 7 == 0 ? "From line " : ".dot ") + std::to_string(i) + "\n";
    write_file(box, entry(body));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    Open o(mod, box);
    ASSERT_EQ(o.status, MODPOP3D_OK);
    struct Ctx {
        std::string out;
        int calls = 0;
        int32_t answer = MODPOP3D_OK;
    };
    auto write = [](void *c, const void *d, size_t n) -> int32_t {
        auto *ctx = static_cast<Ctx *>(c);
        ctx->out.append(static_cast<const char *>(d), n);
        ++ctx->calls;
        return ctx->answer;
    };
    for (uint64_t off : {uint64_t(0), uint64_t(1), uint64_t(65535), uint64_t(70001),
                         uint64_t(body.size() - 1), uint64_t(body.size())}) {
        Ctx ctx;
        modpop3d_sink sink{sizeof sink, &ctx, write};
        EXPECT_EQ(mod.mailbox().retrieve(o.mb, 0, off, &sink), MODPOP3D_OK);
        EXPECT_EQ(ctx.out, body.substr(off)) << "offset " << off;
    }
    Ctx stop;
    stop.answer = MODPOP3D_STOP;
    modpop3d_sink sink{sizeof sink, &stop, write};
    EXPECT_EQ(mod.mailbox().retrieve(o.mb, 0, 0, &sink), MODPOP3D_OK);
    EXPECT_EQ(stop.calls, 1);
    Ctx err;
    err.answer = MODPOP3D_E_IO;
    modpop3d_sink esink{sizeof esink, &err, write};
    EXPECT_EQ(mod.mailbox().retrieve(o.mb, 0, 0, &esink), MODPOP3D_E_IO);
    EXPECT_EQ(mod.mailbox().retrieve(o.mb, 1, 0, &esink), MODPOP3D_E_INVAL);
    modpop3d_msg_info mi{};
    EXPECT_EQ(mod.mailbox().info(o.mb, 1, &mi), MODPOP3D_E_INVAL);
}

TEST_F(Fixture, TwentyMegabyteMessageStreamedWithPauses)
{
    std::string body = "Subject: big\n\n";
    std::string line;
    for (int i = 0; body.size() < 20u * 1024 * 1024; ++i) {
        line = (i % 100 == 0) ? "From here on, line " : "line ";
        line += std::to_string(i) + " " + std::string(static_cast<std::size_t>(i % 90), 'x') + "\n";
        body += line;
    }
    write_file(box, entry("X: small\n\n") + entry(body) + entry("X: after\n\n"));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    Open o(mod, box);
    ASSERT_EQ(o.count, 3u);
    std::string got = o.get(1, 100000);
    EXPECT_EQ(got.size(), body.size());
    EXPECT_TRUE(got == body);
    EXPECT_EQ(o.info(1).size, pop3_size(body));
}

TEST_F(Fixture, DeliveryTimeFromTheFromLine)
{
    write_file(box, entry("X: 1\n\n", false, "From a@b Mon Jan  6 10:00:00 2025") +
                        entry("X: 2\n\n", false, "From a@b garbage"));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    Open o(mod, box);
    struct tm tm {
    };
    tm.tm_year = 125;
    tm.tm_mon = 0;
    tm.tm_mday = 6;
    tm.tm_hour = 10;
    tm.tm_isdst = -1;
    EXPECT_EQ(o.info(0).received, static_cast<int64_t>(mktime(&tm)));
    EXPECT_EQ(o.info(1).received, 0);
}

// ---- UIDLs ----------------------------------------------------------------

namespace
{

std::string md5sum(const std::string &data)
{
    TempDir d;
    write_file(d / "x", data);
    std::string cmd = "md5sum '" + (d / "x") + "'";
    FILE *p = popen(cmd.c_str(), "r");
    char buf[64] = {0};
    if (p == nullptr || std::fgets(buf, sizeof buf, p) == nullptr)
        return "";
    pclose(p);
    return std::string(buf, 32);
}

std::string sample_box()
{
    std::string s;
    for (int i = 0; i < 6; ++i)
        s += entry("Message-ID: <" + std::to_string(i) + "@test>\nSubject: s\n\nbody " +
                   std::to_string(i) + "\n");
    s += entry("Subject: same\n\nidentical\n") + entry("Subject: same\n\nidentical\n");
    return s;
}

} // namespace

TEST_F(Fixture, UidlsAreStableUniqueAndWellFormed)
{
    write_file(box, sample_box());
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    std::vector<std::string> first;
    {
        Open o(mod, box);
        ASSERT_EQ(o.count, 8u);
        first = o.uidls();
    }
    std::set<std::string> uniq(first.begin(), first.end());
    EXPECT_EQ(uniq.size(), first.size());
    for (auto &u : first) {
        EXPECT_GE(u.size(), 1u);
        EXPECT_LE(u.size(), 70u);
        for (char c : u)
            EXPECT_TRUE(c >= 0x21 && c <= 0x7e);
    }
    EXPECT_EQ(first[7], first[6] + "-2"); // identical copies, file order
    std::string index = dir / ".mbox.modpop3d-index";
    ASSERT_TRUE(exists(index));
    struct stat st;
    ASSERT_EQ(stat(index.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    { // from the cache
        Open o(mod, box);
        EXPECT_EQ(o.uidls(), first);
    }
    unlink(index.c_str());
    { // rebuilt
        Open o(mod, box);
        EXPECT_EQ(o.uidls(), first);
    }
    // Corrupt the cache in several ways: always rebuilt, same answers.
    std::string good = read_file(index);
    for (std::size_t pos : {std::size_t(0), std::size_t(20), std::size_t(100), good.size() - 1}) {
        std::string bad = good;
        bad[pos] = static_cast<char>(bad[pos] ^ 0x55);
        write_file(index, bad);
        Open o(mod, box);
        EXPECT_EQ(o.uidls(), first) << "corrupted at " << pos;
    }
    write_file(index, good.substr(0, good.size() / 2));
    {
        Open o(mod, box);
        EXPECT_EQ(o.uidls(), first);
    }
    // Same UIDLs with the cache disabled.
    LoadedModule nocache(modpop3d::testing::module_path(), fast_locks({{"index", "no"}}));
    Open o(nocache, box);
    EXPECT_EQ(o.uidls(), first);
}

TEST_F(Fixture, UidlsOfSurvivorsUnchangedAfterDeletes)
{
    write_file(box, sample_box());
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    std::vector<std::string> before;
    {
        Open o(mod, box);
        before = o.uidls();
        ASSERT_EQ(o.commit({1, 0, 1, 0, 0, 1, 0, 0}), MODPOP3D_OK);
    }
    std::vector<std::string> expect = {before[1], before[3], before[4], before[6], before[7]};
    {
        Open o(mod, box);
        EXPECT_EQ(o.uidls(), expect);
    }
    unlink((dir / ".mbox.modpop3d-index").c_str());
    Open o(mod, box);
    EXPECT_EQ(o.uidls(), expect);
}

TEST_F(Fixture, AppendedMailReusesTheCacheAndKeepsUidls)
{
    write_file(box, sample_box());
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    std::vector<std::string> before;
    {
        Open o(mod, box);
        before = o.uidls();
    }
    int fd = ::open(box.c_str(), O_WRONLY | O_APPEND);
    std::string more = entry("Message-ID: <new@test>\n\nnew\n");
    ASSERT_EQ(::write(fd, more.data(), more.size()), static_cast<ssize_t>(more.size()));
    ::close(fd);
    Open o(mod, box);
    ASSERT_EQ(o.count, 9u);
    auto after = o.uidls();
    after.pop_back();
    EXPECT_EQ(after, before);
    EXPECT_EQ(o.get(8), "Message-ID: <new@test>\n\nnew\n");
}

TEST_F(Fixture, UidlRuleIsDocumented)
{
    // modpop3d style: MD5(From_ line with its newline, header lines up to the
    // empty line, "\n", decimal stored body length).
    std::string from = "From x@y Mon Jan  6 10:00:00 2025\n";
    std::string body = "A: 1\nB: 2\n\nbody\n";
    write_file(box, from + body + "\n");
    std::string expect = md5sum(from + "A: 1\nB: 2\n" + "\n" + std::to_string(body.size()));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    {
        Open o(mod, box);
        EXPECT_EQ(o.uidl(0), expect);
    }
    // tpop3d style: MD5 of the first 512 bytes from the From_ line.
    std::string big = "X: 1\n\n" + std::string(1000, 'b') + "\n";
    write_file(box, from + big + "\n");
    LoadedModule tp(modpop3d::testing::module_path(), fast_locks({{"uidl-style", "tpop3d"}}));
    Open o(tp, box);
    EXPECT_EQ(o.uidl(0), md5sum((from + big).substr(0, 512)));
}

namespace
{

long rss_kib()
{
    FILE *f = std::fopen("/proc/self/status", "r");
    if (f == nullptr)
        return 0;
    char line[256];
    long kib = 0;
    while (std::fgets(line, sizeof line, f) != nullptr)
        if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    std::fclose(f);
    return kib;
}

bool running_under_asan()
{
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

} // namespace

TEST_F(Fixture, HostileShapesUseBoundedWork)
{
    // A million tiny messages, a huge header line, a truncated last message.
    std::string data;
    // (A fifth under ASan, which is many times slower.)
    const int n = running_under_asan() ? 200000 : 1000000;
    data.reserve(static_cast<std::size_t>(n) * 40);
    for (int i = 0; i < n; ++i)
        data += "From a Mon Jan  6 10:00:00 2025\nX: " + std::to_string(i) + "\n\n";
    data += "From a Mon Jan  6 10:00:00 2025\nX-Huge: " + std::string(3 << 20, 'h') + "\n\n";
    data += "From a Mon Jan  6 10:00:00 2025\nSubject: cut";
    write_file(box, data);
    data.clear();
    data.shrink_to_fit();
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    const long before = rss_kib();
    Open o(mod, box);
    ASSERT_EQ(o.status, MODPOP3D_OK);
    ASSERT_EQ(o.count, static_cast<uint32_t>(n + 2));
    // The index is what stays: a fixed record and a UIDL per message. 200
    // bytes each is generous (records are 64, UIDLs 32 and vector slack);
    // the message bytes themselves must never be held. ASan's own
    // bookkeeping makes RSS meaningless there.
    if (!running_under_asan()) {
        EXPECT_LT(rss_kib() - before, static_cast<long>(n) * 200 / 1024)
            << "memory per message is not bounded: " << rss_kib() - before << " KiB";
    }
    EXPECT_EQ(o.get(12345), "X: 12345\n");
    EXPECT_EQ(o.get(n).size(), 8u + (3u << 20) + 1);
    EXPECT_EQ(o.get(n + 1), "Subject: cut");
    EXPECT_EQ(o.info(n + 1).size, 12u);
    std::vector<std::string> uidls;
    uidls.reserve(o.count);
    for (uint32_t i = 0; i < o.count; ++i)
        uidls.push_back(o.uidl(i));
    std::sort(uidls.begin(), uidls.end());
    EXPECT_EQ(std::adjacent_find(uidls.begin(), uidls.end()), uidls.end()) << "UIDLs repeat";
}

TEST(MboxConfig, RejectsBadLockNames)
{
    auto errs =
        LoadedModule::check(modpop3d::testing::module_path(), {{"locking", "dotlock lockf"}});
    EXPECT_FALSE(errs.empty());
    errs = LoadedModule::check(modpop3d::testing::module_path(), {{"locking", "fcntl fcntl"}});
    EXPECT_FALSE(errs.empty());
    errs = LoadedModule::check(modpop3d::testing::module_path(),
                               {{"locking", "fcntl dotlock flock"}, {"format", "mboxrd"}});
    EXPECT_TRUE(errs.empty());
}
