// test_auth_passwd.cpp - auth_passwd against real system accounts. Users are
// created with useradd when running as root (CI does) and removed afterwards;
// without root those tests skip with a message.
#include "test_users.hpp"

#include <grp.h>
#include <gtest/gtest.h>
#include <module_harness.hpp>
#include <pwd.h>

namespace
{

using modpop3d::testing::LoadedModule;
using modpop3d::testing::module_path;
using modpop3d::testing::Settings;
using modpop3d::testing::TestUsers;

#define REQUIRE_ROOT()                                                                             \
    do {                                                                                           \
        if (!modpop3d::testing::running_as_root())                                                 \
            GTEST_SKIP() << "needs root to create system users with useradd (CI runs as root)";    \
    } while (0)

constexpr const char *default_mailbox = "maildir:$(home)/Maildir bsd:/var/mail/$(user)";

struct Passwd : ::testing::Test {
    modpop3d::testing::AuthOutcome login(LoadedModule &m, const std::string &user,
                                         const std::string &pass)
    {
        auto s = m.session({{"client_ip", "127.0.0.1"}});
        return m.verify_plain(*s, user, pass);
    }
};

TEST_F(Passwd, DescriptorAndSchema)
{
    LoadedModule m(module_path(), {});
    const auto &d = m.descriptor();
    EXPECT_STREQ(d.name, "auth_passwd");
    EXPECT_EQ(d.kind, MODPOP3D_KIND_AUTH);
    EXPECT_TRUE(d.flags & MODPOP3D_MODF_NEEDS_ROOT);
    EXPECT_EQ(m.auth().caps, MODPOP3D_AUTHC_PLAIN);
    EXPECT_EQ(m.auth().lookup_credentials, nullptr);
}

TEST_F(Passwd, ConfigurationErrors)
{
    EXPECT_TRUE(LoadedModule::check(module_path(), {}).empty());
    EXPECT_FALSE(
        LoadedModule::check(module_path(), {{"mail-group", "no-such-group-mp3test"}}).empty());
    EXPECT_TRUE(LoadedModule::check(module_path(), {{"mail-group", "mail"}}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"min-uid", "0"}}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"min-uid", "many"}}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"no-such-key", "1"}}).empty());
}

// Root exists everywhere: refused before its shadow entry is even read.
TEST_F(Passwd, RootIsRefused)
{
    LoadedModule m(module_path(), {{"min-uid", "1"}});
    const auto r = login(m, "root", "whatever");
    EXPECT_EQ(r.status, MODPOP3D_E_PERM);
    EXPECT_TRUE(r.result.empty());
}

TEST_F(Passwd, SystemAccountBelowMinUidIsRefused)
{
    // "daemon" is uid 1 on Debian, locked anyway: PERM comes first.
    LoadedModule m(module_path(), {});
    EXPECT_EQ(login(m, "daemon", "x").status, MODPOP3D_E_PERM);
}

TEST_F(Passwd, HostileNamesNeverMatch)
{
    LoadedModule m(module_path(), {});
    for (const auto &name : modpop3d::testing::hostile_names()) {
        const auto r = login(m, name, "password");
        EXPECT_EQ(r.status, MODPOP3D_E_NOUSER) << "name of " << name.size() << " bytes";
        EXPECT_TRUE(r.result.empty());
    }
}

TEST_F(Passwd, UnknownUserIsNoUser)
{
    LoadedModule m(module_path(), {});
    const std::string name = "mp3test_" + std::to_string(getpid()) + "_absent";
    EXPECT_EQ(login(m, name, "pw").status, MODPOP3D_E_NOUSER);
}

TEST_F(Passwd, GoodPasswordGivesAccount)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string name = users.add("Secret123");
    LoadedModule m(module_path(), {});
    const auto r = login(m, name, "Secret123");
    ASSERT_EQ(r.status, MODPOP3D_OK);
    const passwd *pw = getpwnam(name.c_str());
    ASSERT_NE(pw, nullptr);
    EXPECT_EQ(r.result.at("user"), name);
    EXPECT_EQ(r.result.at("uid"), std::to_string(pw->pw_uid));
    EXPECT_EQ(r.result.at("gid"), std::to_string(pw->pw_gid));
    EXPECT_EQ(r.result.at("home"), "/nonexistent/" + name);
    EXPECT_EQ(r.result.at("mailbox"), default_mailbox);
    EXPECT_GE(pw->pw_uid, 1000u);
}

TEST_F(Passwd, WrongPasswordIsBadPass)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string name = users.add("Secret123");
    LoadedModule m(module_path(), {});
    EXPECT_EQ(login(m, name, "Secret124").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, name, "").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, name, std::string("Secret123\0", 10)).status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, name, "secret123").status, MODPOP3D_E_BADPASS);
}

TEST_F(Passwd, LockedAccountsAreBadPass)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string locked = users.add("Secret123");
    users.modify(locked, "-L"); // "!" before the hash
    const std::string star = users.add_with_hash("*");
    const std::string bang = users.add_with_hash("!");
    LoadedModule m(module_path(), {});
    EXPECT_EQ(login(m, locked, "Secret123").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, star, "*").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, bang, "!").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, bang, "").status, MODPOP3D_E_BADPASS);
}

TEST_F(Passwd, ExpiredAccountIsRefused)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string name = users.add("Secret123");
    users.modify(name, "--expiredate 1970-01-02");
    LoadedModule m(module_path(), {});
    EXPECT_EQ(login(m, name, "Secret123").status, MODPOP3D_E_PERM);
    EXPECT_EQ(login(m, name, "wrong").status, MODPOP3D_E_BADPASS);
}

TEST_F(Passwd, MinUidApplies)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string sys = users.add("Secret123", "-r"); // below UID_MIN
    const std::string normal = users.add("Secret123");
    const passwd *pw = getpwnam(normal.c_str());
    ASSERT_NE(pw, nullptr);
    const uid_t normal_uid = pw->pw_uid;
    {
        LoadedModule m(module_path(), {});
        EXPECT_EQ(login(m, sys, "Secret123").status, MODPOP3D_E_PERM);
        EXPECT_EQ(login(m, normal, "Secret123").status, MODPOP3D_OK);
    }
    {
        LoadedModule m(module_path(), {{"min-uid", std::to_string(normal_uid + 1)}});
        EXPECT_EQ(login(m, normal, "Secret123").status, MODPOP3D_E_PERM);
    }
    {
        LoadedModule m(module_path(), {{"min-uid", "1"}});
        EXPECT_EQ(login(m, sys, "Secret123").status, MODPOP3D_OK);
    }
}

TEST_F(Passwd, MailGroupAndMailboxTemplate)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string name = users.add("Secret123");
    const group *gr = getgrnam("mail");
    ASSERT_NE(gr, nullptr);
    const gid_t mail_gid = gr->gr_gid;
    LoadedModule m(module_path(),
                   {{"mail-group", "mail"}, {"mailbox", "bsd:/var/mail/$(user) empty:"}});
    const auto r = login(m, name, "Secret123");
    ASSERT_EQ(r.status, MODPOP3D_OK);
    EXPECT_EQ(r.result.at("gid"), std::to_string(mail_gid));
    EXPECT_EQ(r.result.at("mailbox"), "bsd:/var/mail/$(user) empty:");
}

TEST_F(Passwd, HostileNamesNextToRealUsers)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string name = users.add("Secret123");
    LoadedModule m(module_path(), {});
    // Prefixes, suffixes and patterns around a real name never match it.
    for (const std::string &v :
         {name + "*", name + "/", "*" + name, name + " ", " " + name, name + "\x01",
          name.substr(0, name.size() - 1) + "%", name + ":x"}) {
        EXPECT_EQ(login(m, v, "Secret123").status, MODPOP3D_E_NOUSER) << v;
    }
    EXPECT_EQ(login(m, name, "Secret123").status, MODPOP3D_OK);
}

} // namespace
