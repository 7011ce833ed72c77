// test_commit.cpp - UPDATE semantics of mailbox_maildir: deletions, the
// seen flag, mail delivered during the session, maildirsize, vanished and
// moved messages, close() without commit.
#include "maildir_fixture.hpp"

using namespace maildir_test;
using modpop3d::testing::module_path;

TEST(MaildirCommit, DeletesMarksSeenAndKeepsNewMail)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000001.a.host", "a\n");             // 0: deleted
    deliver(md, "1700000002.b.host", "b\n");             // 1: retrieved
    deliver(md, "1700000003.c.host", "c\n");             // 2: untouched
    deliver(md, "1700000004.d.host:2,F", "d\n", "cur");  // 3: retrieved, flag merged
    deliver(md, "1700000005.e.host:2,S", "e\n", "cur");  // 4: deleted
    deliver(md, "1700000006.f.host:2,RS", "f\n", "cur"); // 5: retrieved, already seen
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 6u);
    // Delivered while the session runs: not listed, must survive the commit.
    deliver(md, "1700000007.late.host", "late\n");
    ASSERT_EQ(mb.commit({1, 0, 0, 0, 1, 0}, {1, 1, 0, 1, 0, 1}), MODPOP3D_OK);
    mb.close();
    EXPECT_EQ(list_dir(md + "/new"),
              (std::vector<std::string>{"1700000003.c.host", "1700000007.late.host"}));
    EXPECT_EQ(list_dir(md + "/cur"),
              (std::vector<std::string>{"1700000002.b.host:2,S", "1700000004.d.host:2,FS",
                                        "1700000006.f.host:2,RS"}));
    EXPECT_EQ(read_file(md + "/cur/1700000002.b.host:2,S"), "b\n");
    // UIDLs do not change with the move.
    Mbox again(mod, md);
    ASSERT_EQ(again.scan(), 5u);
    EXPECT_EQ(again.uidl(0), "1700000002.b.host");
    EXPECT_EQ(again.info(0).flags, uint32_t(MODPOP3D_MSG_SEEN));
    EXPECT_EQ(again.uidl(4), "1700000007.late.host");
}

TEST(MaildirCommit, CloseWithoutCommitChangesNothing)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000001.a.host", "a\n");
    LoadedModule mod(module_path(), {});
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.scan(), 1u);
        EXPECT_EQ(retrieve_string(mb, 0), "a\n");
    }
    EXPECT_EQ(list_dir(md + "/new"), std::vector<std::string>{"1700000001.a.host"});
    EXPECT_TRUE(list_dir(md + "/cur").empty());
}

TEST(MaildirCommit, MarkSeenCanBeTurnedOff)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000001.a.host", "a\n");
    LoadedModule mod(module_path(), {{"mark-seen", "no"}});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 1u);
    ASSERT_EQ(mb.commit({0}, {1}), MODPOP3D_OK);
    EXPECT_EQ(list_dir(md + "/new"), std::vector<std::string>{"1700000001.a.host"});
}

TEST(MaildirCommit, MaildirsizeGetsANegativeLine)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    const std::string quota_head = "1000000S,1000C\n 30 3\n";
    write_file(md + "/maildirsize", quota_head);
    ::chmod((md + "/maildirsize").c_str(), 0600);
    deliver(md, "1700000001.a.host,S=123", "not 123 octets\n"); // S= is what the MDA counted
    deliver(md, "1700000002.b.host", "0123456789\n");           // 11 octets
    deliver(md, "1700000003.c.host", "kept\n");
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 3u);
    ASSERT_EQ(mb.commit({1, 1, 0}, {0, 0, 0}), MODPOP3D_OK);
    EXPECT_EQ(read_file(md + "/maildirsize"), quota_head + "-134 -2\n");

    // No maildirsize, no quota: none is created.
    ::unlink((md + "/maildirsize").c_str());
    mb.close(); // the session lock (on by default) admits one session at a time
    Mbox mb2(mod, md);
    ASSERT_EQ(mb2.scan(), 1u);
    ASSERT_EQ(mb2.commit({1}, {0}), MODPOP3D_OK);
    EXPECT_NE(::access((md + "/maildirsize").c_str(), F_OK), 0);
}

TEST(MaildirCommit, VanishedMessageIsGoneAndCommitStillWorks)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000001.a.host", "a\n");
    deliver(md, "1700000002.b.host", "b\n");
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 2u);
    ASSERT_EQ(::unlink((md + "/new/1700000001.a.host").c_str()), 0);
    int32_t st = MODPOP3D_OK;
    retrieve_string(mb, 0, &st);
    EXPECT_EQ(st, MODPOP3D_E_GONE);
    // The session goes on: the other message is fine, and deleting the
    // vanished one is not an error.
    EXPECT_EQ(retrieve_string(mb, 1), "b\n");
    EXPECT_EQ(mb.commit({1, 1}, {0, 1}), MODPOP3D_OK);
    EXPECT_TRUE(list_dir(md + "/new").empty());
    EXPECT_TRUE(list_dir(md + "/cur").empty());
}

TEST(MaildirCommit, MessageMovedByAnotherAgentIsFound)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000001.a.host", "a\n");
    deliver(md, "1700000002.b.host", "b\n");
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 2u);
    // An IMAP server marks both seen (new/ -> cur/ with flags) meanwhile.
    ASSERT_EQ(::rename((md + "/new/1700000001.a.host").c_str(),
                       (md + "/cur/1700000001.a.host:2,S").c_str()),
              0);
    ASSERT_EQ(::rename((md + "/new/1700000002.b.host").c_str(),
                       (md + "/cur/1700000002.b.host:2,F").c_str()),
              0);
    EXPECT_EQ(retrieve_string(mb, 0), "a\n");
    EXPECT_EQ(retrieve_string(mb, 1), "b\n");
    ASSERT_EQ(mb.commit({1, 0}, {1, 1}), MODPOP3D_OK);
    EXPECT_EQ(list_dir(md + "/cur"), std::vector<std::string>{"1700000002.b.host:2,FS"});
}

TEST(MaildirCommit, PausedStreamSurvivesUnlink)
{
    // A message deleted by another agent while we stream it: the open file
    // is still read to the end (no truncated message, no hang).
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    std::string body(500000, 'x');
    deliver(md, "1700000001.a.host", body);
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 1u);
    RecordingSink s;
    s.pause_every = 1;
    ASSERT_EQ(mb.ops().retrieve(mb.get(), 0, 0, &s.sink), MODPOP3D_PAUSE);
    ASSERT_EQ(::unlink((md + "/new/1700000001.a.host").c_str()), 0);
    ASSERT_EQ(retrieve(mb, 0, s), MODPOP3D_OK);
    EXPECT_EQ(s.data.size(), body.size());
    // A fresh retrieval now reports the message gone.
    int32_t st = MODPOP3D_OK;
    retrieve_string(mb, 0, &st);
    EXPECT_EQ(st, MODPOP3D_E_GONE);
}

TEST(MaildirCommit, BadCommitArgumentsAreRefused)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000001.a.host", "a\n");
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 1u);
    EXPECT_EQ(mb.commit({1, 1}, {0, 0}), MODPOP3D_E_INVAL); // count mismatch
    EXPECT_EQ(list_dir(md + "/new").size(), 1u);
}
