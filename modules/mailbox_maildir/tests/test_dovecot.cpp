// test_dovecot.cpp - uidl-format: dovecot, UIDLs taken from a dovecot-uidlist
// written here with known UIDs and UIDVALIDITY.
#include "maildir_fixture.hpp"

#include <cstdio>
#include <map>

using namespace maildir_test;
using modpop3d::testing::module_path;

namespace
{

// The expected UIDL, computed independently of the module: Dovecot's
// pop3_uidl_format default %08Xu%08Xv.
std::string expect(unsigned uid, unsigned validity)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%08X%08X", uid, validity);
    return buf;
}

std::map<std::string, std::string> all_uidls(Mbox &mb)
{
    std::map<std::string, std::string> out; // base name order = timestamp order here
    uint32_t n = mb.scan();
    for (uint32_t i = 0; i < n; ++i)
        out[std::to_string(i)] = mb.uidl(i);
    return out;
}

const char *const kA = "1600000001.M1P1.old,S=10,W=11";
const char *const kB = "1600000002.M2P2.old";
const char *const kC = "1600000003.M3P3.old";
const char *const kNew = "1700000009.M9P9.new"; // delivered after the migration

// A maildir with A (cur, flags since recorded), B (new), C (cur, O field),
// and a message not listed in the uidlist.
std::string dovecot_maildir(const std::string &root, const std::string &uidlist)
{
    std::string md = make_maildir(root);
    deliver(md, std::string(kA) + ":2,S", "Subject: a\n\n1\n", "cur");
    deliver(md, kB, "Subject: b\n\n2\n");
    deliver(md, std::string(kC) + ":2,RS", "Subject: c\n\n3\n", "cur");
    deliver(md, kNew, "Subject: new\n\n4\n");
    write_file(md + "/dovecot-uidlist", uidlist);
    return md;
}

std::string good_uidlist()
{
    return std::string("3 V3000000000 N300 G3085f01b7f11094c501100008c4a11c1\n") + "7 :" + kA +
           "\n" + "255 W99 S98 :" + kB + ":2,F\n" + "299 W20 Oold-server-uidl-42 :" + kC + "\n" +
           "200 :1500000000.gone.host\n"; // an expunged message still listed
}

} // namespace

TEST(MaildirDovecot, ListedMessagesGetDovecotUidls)
{
    TempDir t;
    std::string md = dovecot_maildir(t.path() + "/Maildir", good_uidlist());
    const std::string before = read_file(md + "/dovecot-uidlist");
    LoadedModule mod(module_path(), {{"uidl-format", "dovecot"}});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.status(), MODPOP3D_OK);
    ASSERT_EQ(mb.scan(), 4u);
    EXPECT_EQ(mb.uidl(0), expect(7, 3000000000u));
    EXPECT_EQ(mb.uidl(0), "00000007B2D05E00");
    EXPECT_EQ(mb.uidl(1), expect(255, 3000000000u));
    EXPECT_EQ(mb.uidl(2), "old-server-uidl-42"); // the O field wins, as in Dovecot
    EXPECT_EQ(mb.uidl(3), kNew);                 // not listed: the base name
    EXPECT_TRUE(log_has(mod, {"event=dovecot_uidls", "from_uidlist=3", "from_basename=1"}));
    mb.close();
    EXPECT_EQ(read_file(md + "/dovecot-uidlist"), before); // never written
}

TEST(MaildirDovecot, UidlsStableAcrossOpensAndCommits)
{
    TempDir t;
    std::string md = dovecot_maildir(t.path() + "/Maildir", good_uidlist());
    LoadedModule mod(module_path(), {{"uidl-format", "dovecot"}});
    std::map<std::string, std::string> first;
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.status(), MODPOP3D_OK);
        first = all_uidls(mb);
        // Retrieving marks B and the new message seen (renamed into cur/).
        ASSERT_EQ(mb.commit({0, 0, 0, 0}, {1, 1, 1, 1}), MODPOP3D_OK);
    }
    EXPECT_EQ(list_dir(md + "/new").size(), 0u);
    Mbox again(mod, md);
    ASSERT_EQ(again.status(), MODPOP3D_OK);
    EXPECT_EQ(all_uidls(again), first);
    EXPECT_EQ(first.at("1"), expect(255, 3000000000u));
}

TEST(MaildirDovecot, NoUidlistMeansBasenames)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, kB, "x\n");
    LoadedModule mod(module_path(), {{"uidl-format", "dovecot"}});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 1u);
    EXPECT_EQ(mb.uidl(0), kB);
    EXPECT_FALSE(log_has(mod, {"event=dovecot_uidlist_ignored"}));
}

TEST(MaildirDovecot, MalformedUidlistIsIgnoredWithALogLine)
{
    const std::string bad[] = {
        "",                                                           // empty
        "3 V3000000000 N300",                                         // header without newline
        std::string("1 3000000000 300\n7 ") + kB + "\n",              // version 1
        std::string("3 N300\n7 :") + kB + "\n",                       // no UIDVALIDITY
        std::string("3 V0 N300\n7 :") + kB + "\n",                    // UIDVALIDITY 0
        std::string("3 V99999999999 N3\n7 :") + kB + "\n",            // out of range
        std::string("3 V5 N300\nx7 :") + kB + "\n",                   // bad UID
        std::string("3 V5 N300\n0 :") + kB + "\n",                    // UID 0
        std::string("3 V5 N300\n7 ") + kB + "\n",                     // no ':'
        std::string("3 V5 N300\n7 :") + kB + "\n7 :" + kA + "\n",     // duplicate UID
        std::string("3 V5 N300\n7 :") + kB + "\n8 :" + kB + ":2,S\n", // duplicate name
    };
    for (const std::string &content : bad) {
        TempDir t;
        std::string md = make_maildir(t.path() + "/Maildir");
        deliver(md, kB, "x\n");
        write_file(md + "/dovecot-uidlist", content);
        LoadedModule mod(module_path(), {{"uidl-format", "dovecot"}});
        Mbox mb(mod, md);
        ASSERT_EQ(mb.status(), MODPOP3D_OK);
        ASSERT_EQ(mb.scan(), 1u) << content;
        EXPECT_EQ(mb.uidl(0), kB) << content;
        EXPECT_TRUE(log_has(mod, {"event=dovecot_uidlist_ignored", "action=basename_uidls"}))
            << content;
        EXPECT_EQ(read_file(md + "/dovecot-uidlist"), content);
    }
}

TEST(MaildirDovecot, UnterminatedLastLineIsSkippedOnly)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, kA, "a\n");
    deliver(md, kB, "b\n");
    write_file(md + "/dovecot-uidlist",
               std::string("3 V17 N9\n1 :") + kA + "\n2 :" + kB); // append in progress
    LoadedModule mod(module_path(), {{"uidl-format", "dovecot"}});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 2u);
    EXPECT_EQ(mb.uidl(0), expect(1, 17));
    EXPECT_EQ(mb.uidl(1), kB);
}

TEST(MaildirDovecot, FallbackNeverLooksLikeADovecotUidl)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    // A hostile or odd file name equal to another message's Dovecot UIDL.
    const std::string clash = expect(1, 17);
    deliver(md, kA, "a\n");
    deliver(md, clash, "b\n");
    write_file(md + "/dovecot-uidlist", std::string("3 V17 N9\n1 :") + kA + "\n");
    LoadedModule mod(module_path(), {{"uidl-format", "dovecot"}});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 2u);
    std::vector<std::string> u = {mb.uidl(0), mb.uidl(1)};
    std::sort(u.begin(), u.end());
    EXPECT_NE(u[0], u[1]);
    EXPECT_TRUE(std::find(u.begin(), u.end(), clash) != u.end()); // the listed message
    EXPECT_EQ(std::count_if(u.begin(), u.end(),
                            [](const std::string &s) { return s.rfind("md5:", 0) == 0; }),
              1);
    // Other formats are unaffected by dovecot-uidlist.
    mb.close(); // the session lock (on by default) admits one session at a time
    LoadedModule plain(module_path(), {});
    Mbox mb2(plain, md);
    ASSERT_EQ(mb2.scan(), 2u);
    EXPECT_TRUE(mb2.uidl(0) == kA || mb2.uidl(1) == kA);
}

TEST(MaildirDovecot, UidlistOfAnotherOwnerOrSymlinkIsIgnored)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, kB, "x\n");
    write_file(t.path() + "/elsewhere", std::string("3 V17 N9\n1 :") + kB + "\n");
    ASSERT_EQ(::symlink((t.path() + "/elsewhere").c_str(), (md + "/dovecot-uidlist").c_str()), 0);
    LoadedModule mod(module_path(), {{"uidl-format", "dovecot"}});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 1u);
    EXPECT_EQ(mb.uidl(0), kB);
    EXPECT_TRUE(log_has(mod, {"event=dovecot_uidlist_ignored", "symlink"}));
}
