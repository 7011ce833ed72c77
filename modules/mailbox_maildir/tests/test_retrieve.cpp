// test_retrieve.cpp - listing, exact sizes, order, UIDLs and byte-exact
// streaming of mailbox_maildir.
#include "maildir_fixture.hpp"

#include <map>

using namespace maildir_test;
using modpop3d::testing::module_path;

namespace
{

// Awkward contents: each must come back byte for byte, with the exact size.
std::map<std::string, std::string> awkward_messages()
{
    std::string eight_bit = "Subject: 8bit\n\n";
    for (int i = 0; i < 256; ++i)
        eight_bit.push_back(char(i));
    eight_bit += "\n\0\0\0middle of NULs\n";
    eight_bit.push_back('\0');
    return {
        {"1700000001.A1.host", "Subject: dots\n\n.leading dot\n..two dots\n.\nend\n"},
        {"1700000002.A2.host", "Subject: no final newline\n\nlast line without LF"},
        {"1700000003.A3.host", eight_bit},
        {"1700000004.A4.host", "Subject: crlf\r\n\r\nalready CRLF\r\nmixed\nlone CR\r.\r\n"},
        {"1700000005.A5.host", "Subject: empty body\n\n"},
        {"1700000006.A6.host", ""},
        {"1700000007.A7.host", "\n\n\n"},
        {"1700000008.A8.host", "ends with CR\r"},
    };
}

} // namespace

TEST(MaildirRetrieve, ByteExactAndExactSizes)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    auto msgs = awkward_messages();
    for (const auto &[name, body] : msgs)
        deliver(md, name, body);
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.status(), MODPOP3D_OK);
    ASSERT_EQ(mb.scan(), msgs.size());
    uint32_t i = 0;
    for (const auto &[name, body] : msgs) { // std::map: name order = timestamp order
        auto mi = mb.info(i);
        EXPECT_EQ(std::string(mi.uidl), name);
        EXPECT_EQ(mi.size, pop3_size(body)) << name;
        EXPECT_EQ(mi.flags, 0u);
        EXPECT_EQ(mi.received, std::stoll(name.substr(0, 10)));
        int32_t st = MODPOP3D_E_INTERNAL;
        EXPECT_EQ(retrieve_string(mb, i, &st), body) << name;
        EXPECT_EQ(st, MODPOP3D_OK);
        // With a pause after every byte-chunk as well.
        RecordingSink paused;
        paused.pause_every = 1;
        EXPECT_EQ(retrieve(mb, i, paused), MODPOP3D_OK);
        EXPECT_EQ(paused.data, body);
        ++i;
    }
    // The harness's own driver agrees.
    EXPECT_EQ(mod.retrieve_all(mb.get(), 2, 7), std::next(msgs.begin(), 2)->second);
}

TEST(MaildirRetrieve, LargeMessageStreamsInBoundedChunksWithPauses)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    std::string big;
    big.reserve(20u << 20);
    big += "Subject: big\n\n";
    uint32_t x = 12345;
    while (big.size() < (20u << 20)) {
        x = x * 1103515245u + 12345u;
        int len = int(x >> 24) % 200;
        for (int k = 0; k < len; ++k)
            big.push_back(char('!' + (x >> (k % 24)) % 90));
        big += (x & 1) != 0 ? "\n" : "\r\n";
        if ((x & 0x3f) == 0)
            big += ".dot line\n";
    }
    deliver(md, "1700000000.big.host", big);
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.status(), MODPOP3D_OK);
    ASSERT_EQ(mb.scan(), 1u);
    EXPECT_EQ(mb.info(0).size, pop3_size(big));
    RecordingSink s;
    s.pause_every = 100000;
    ASSERT_EQ(retrieve(mb, 0, s), MODPOP3D_OK);
    EXPECT_TRUE(s.data == big);
    EXPECT_LE(s.max_chunk, 64u * 1024u); // streamed, never the whole message at once
    EXPECT_GT(s.chunks, (20u << 20) / (64u * 1024u) - 1);
}

TEST(MaildirRetrieve, OffsetStopAndSinkError)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    std::string body(300000, 'a');
    for (std::size_t i = 0; i < body.size(); i += 77)
        body[i] = '\n';
    deliver(md, "1700000000.x.host", body);
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 1u);

    RecordingSink from_offset;
    ASSERT_EQ(retrieve(mb, 0, from_offset, 12345), MODPOP3D_OK);
    EXPECT_EQ(from_offset.data, body.substr(12345));

    RecordingSink stop;
    stop.stop_after = 1;
    EXPECT_EQ(mb.ops().retrieve(mb.get(), 0, 0, &stop.sink), MODPOP3D_OK);
    EXPECT_EQ(stop.chunks, 1u);
    EXPECT_LT(stop.data.size(), body.size());

    RecordingSink broken;
    broken.error = MODPOP3D_E_IO;
    EXPECT_EQ(mb.ops().retrieve(mb.get(), 0, 0, &broken.sink), MODPOP3D_E_IO);
    EXPECT_EQ(broken.chunks, 1u);

    RecordingSink bad;
    EXPECT_EQ(mb.ops().retrieve(mb.get(), 1, 0, &bad.sink), MODPOP3D_E_INVAL);
    modpop3d_msg_info mi{};
    mi.struct_size = sizeof mi;
    EXPECT_EQ(mb.ops().info(mb.get(), 1, &mi), MODPOP3D_E_INVAL);
}

TEST(MaildirRetrieve, OrderIsDeliveryTimeThenName)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000300.b.host", "3\n");
    deliver(md, "1700000100.z.host:2,S", "1\n", "cur");
    deliver(md, "1700000200.b.host", "2b\n");
    deliver(md, "1700000200.a.host", "2a\n", "cur");
    // No timestamp in the name: the file's mtime is the delivery time.
    deliver(md, "courier-style-name", "m\n");
    set_mtime(md + "/new/courier-style-name", 1700000250);
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 5u);
    std::vector<std::string> got;
    for (uint32_t i = 0; i < 5; ++i)
        got.push_back(retrieve_string(mb, i));
    EXPECT_EQ(got, (std::vector<std::string>{"1\n", "2a\n", "2b\n", "m\n", "3\n"}));
    EXPECT_EQ(mb.info(0).flags, uint32_t(MODPOP3D_MSG_SEEN));
    EXPECT_EQ(mb.info(0).uidl, std::string("1700000100.z.host"));
    EXPECT_EQ(mb.info(3).received, 1700000250);
}

TEST(MaildirRetrieve, SizeFromWFieldOnlyWhenPlausible)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    std::string body = "a\nb\nc\n"; // 6 octets, POP3 size 9
    // W= is trusted (deliberately different from the truth to show it is used).
    deliver(md, "1700000001.a.host,S=6,W=10", body);
    // An impossible W= (below the file size) is ignored and the size computed.
    deliver(md, "1700000002.b.host,S=6,W=3", body);
    // S= alone is the file size, never taken as the POP3 size.
    deliver(md, "1700000003.c.host,S=6", body);
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 3u);
    EXPECT_EQ(mb.info(0).size, 10u);
    EXPECT_EQ(mb.info(1).size, 9u);
    EXPECT_EQ(mb.info(2).size, 9u);
    mb.close();

    LoadedModule strict(module_path(), {{"trust-w-size", "no"}});
    Mbox mb2(strict, md);
    ASSERT_EQ(mb2.scan(), 3u);
    EXPECT_EQ(mb2.info(0).size, 9u);
}

TEST(MaildirUidl, FormatsAndSanitising)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "abc", "x\n");
    set_mtime(md + "/new/abc", 1000);
    deliver(md, "1700000000.with space.host", "y\n");
    std::string long_name = "1700000001." + std::string(100, 'L') + ".host";
    deliver(md, long_name + ":2,S", "z\n", "cur");

    LoadedModule plain(module_path(), {});
    {
        Mbox mb(plain, md);
        ASSERT_EQ(mb.scan(), 3u);
        EXPECT_EQ(mb.uidl(0), "abc");
        for (uint32_t i : {1u, 2u}) {
            std::string u = mb.uidl(i);
            EXPECT_EQ(u.rfind("md5:", 0), 0u) << u;
            EXPECT_EQ(u.size(), 36u);
            for (char c : u)
                EXPECT_TRUE(c >= 0x21 && c <= 0x7e);
        }
        EXPECT_NE(mb.uidl(1), mb.uidl(2));
    }
    // tpop3d: hex MD5 of the base name. MD5("abc") is the RFC 1321 test vector.
    LoadedModule tp(module_path(), {{"uidl-format", "tpop3d"}});
    Mbox mb(tp, md);
    ASSERT_EQ(mb.scan(), 3u);
    EXPECT_EQ(mb.uidl(0), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(mb.uidl(1).size(), 32u);
}

TEST(MaildirUidl, MessageSeenTwiceDuringAMoveIsListedOnce)
{
    // The same base name in new/ and cur/ (another session moved it between
    // our readdir passes, or an MDA duplicated it): listed once, from cur/.
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000000.dup.host", "new copy\n");
    deliver(md, "1700000000.dup.host:2,S", "cur copy\n", "cur");
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 1u);
    EXPECT_EQ(retrieve_string(mb, 0), "cur copy\n");
}

TEST(MaildirConfig, SchemaRejectsBadValues)
{
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"uidl-format", "courier"}}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"lock-stale-age", "1s"}}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"no-such-key", "1"}}).empty());
    EXPECT_TRUE(LoadedModule::check(module_path(), {{"uidl-format", "tpop3d"},
                                                    {"exclusive-lock", "yes"},
                                                    {"lock-stale-age", "10m"},
                                                    {"max-messages", "5000"}})
                    .empty());
}

TEST(MaildirLimits, MaxMessagesBoundsTheListing)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    for (int i = 0; i < 50; ++i)
        deliver(md, std::to_string(1700000000 + i) + ".m.host", "x\n");
    LoadedModule mod(module_path(), {{"max-messages", "20"}});
    Mbox mb(mod, md);
    EXPECT_EQ(mb.scan(), 20u);
    EXPECT_TRUE(log_has(mod, {"event=listing_truncated"}));
}
