// test_auth_pam.cpp - auth_pam against a real Linux-PAM stack: each test
// writes its own /etc/pam.d/modpop3d-test-<pid>-<n> service (pam_unix, and
// pam_exec to observe PAM_RHOST/PAM_RUSER), creates system users with
// useradd, and removes both afterwards. Needs root; skips otherwise.
#include "test_users.hpp"

#include <filesystem>
#include <fstream>
#include <grp.h>
#include <gtest/gtest.h>
#include <module_harness.hpp>
#include <pwd.h>
#include <sstream>
#include <sys/stat.h>

namespace
{

namespace fs = std::filesystem;
using modpop3d::testing::LoadedModule;
using modpop3d::testing::module_path;
using modpop3d::testing::TestUsers;

#define REQUIRE_ROOT()                                                                             \
    do {                                                                                           \
        if (!modpop3d::testing::running_as_root())                                                 \
            GTEST_SKIP() << "needs root for /etc/pam.d and useradd (CI runs as root)";             \
    } while (0)

// PamService - a service file under /etc/pam.d, removed on destruction.
class PamService
{
  public:
    explicit PamService(const std::string &stack)
    {
        static int n = 0;
        name_ = "modpop3d-test-" + std::to_string(getpid()) + "-" + std::to_string(++n);
        std::ofstream f(path());
        f << "# written by modpop3d's auth_pam tests; safe to delete\n" << stack;
    }
    ~PamService() { fs::remove(path()); }
    const std::string &name() const { return name_; }
    std::string path() const { return "/etc/pam.d/" + name_; }

  private:
    std::string name_;
};

constexpr const char *unix_stack = "auth required pam_unix.so\naccount required pam_unix.so\n";

// TempDir - a private directory for scripts and their output.
class TempDir
{
  public:
    TempDir()
    {
        char tmpl[] = "/tmp/mp3pam-XXXXXX";
        if (mkdtemp(tmpl) == nullptr)
            throw std::runtime_error("mkdtemp");
        path_ = tmpl;
    }
    ~TempDir() { fs::remove_all(path_); }
    const std::string &path() const { return path_; }

  private:
    std::string path_;
};

std::string slurp(const std::string &path)
{
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

modpop3d::testing::AuthOutcome login(LoadedModule &m, const std::string &user,
                                     const std::string &pass, const std::string &ip = "127.0.0.1")
{
    auto s = m.session({{"client_ip", ip}});
    return m.verify_plain(*s, user, pass);
}

TEST(Pam, DescriptorAndSchema)
{
    LoadedModule m(module_path(), {});
    EXPECT_STREQ(m.descriptor().name, "auth_pam");
    EXPECT_TRUE(m.descriptor().flags & MODPOP3D_MODF_NEEDS_ROOT);
    EXPECT_TRUE(m.descriptor().flags & MODPOP3D_MODF_BLOCKING);
    EXPECT_FALSE(m.descriptor().flags & MODPOP3D_MODF_THREAD_SAFE);
    EXPECT_EQ(m.auth().caps, MODPOP3D_AUTHC_PLAIN);
}

TEST(Pam, ConfigurationErrors)
{
    EXPECT_TRUE(LoadedModule::check(module_path(), {{"service", "pop3"}}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"service", "../shadow"}}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"service", "a b"}}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"service", "*"}}).empty());
    EXPECT_FALSE(
        LoadedModule::check(module_path(), {{"mail-group", "no-such-group-mp3t"}}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"min-uid", "0"}}).empty());
}

// Root is refused before PAM runs, so this needs neither root nor a service
// file (an unknown service falls back to /etc/pam.d/other).
TEST(Pam, RootAndHostileNamesWithoutAStack)
{
    LoadedModule m(module_path(), {{"service", "modpop3d-test-does-not-exist"}, {"min-uid", "1"}});
    EXPECT_EQ(login(m, "root", "x").status, MODPOP3D_E_PERM);
    for (const auto &name : modpop3d::testing::hostile_names()) {
        const auto r = login(m, name, "password");
        EXPECT_TRUE(r.status == MODPOP3D_E_NOUSER || r.status == MODPOP3D_E_BADPASS ||
                    r.status == MODPOP3D_E_TEMP)
            << "name of " << name.size() << " bytes: " << r.status;
        EXPECT_TRUE(r.result.empty());
    }
}

TEST(Pam, HostileNamesAgainstPamUnix)
{
    REQUIRE_ROOT();
    PamService svc(unix_stack);
    LoadedModule m(module_path(), {{"service", svc.name()}});
    for (const auto &name : modpop3d::testing::hostile_names()) {
        const auto r = login(m, name, "password");
        EXPECT_EQ(r.status, MODPOP3D_E_NOUSER) << "name of " << name.size() << " bytes";
        EXPECT_TRUE(r.result.empty());
    }
}

TEST(Pam, SuccessWrongPasswordUnknownUser)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string name = users.add("PamSecret1");
    PamService svc(unix_stack);
    LoadedModule m(module_path(), {{"service", svc.name()}});

    const auto ok = login(m, name, "PamSecret1");
    ASSERT_EQ(ok.status, MODPOP3D_OK);
    const passwd *pw = getpwnam(name.c_str());
    ASSERT_NE(pw, nullptr);
    EXPECT_EQ(ok.result.at("user"), name);
    EXPECT_EQ(ok.result.at("uid"), std::to_string(pw->pw_uid));
    EXPECT_EQ(ok.result.at("gid"), std::to_string(pw->pw_gid));
    EXPECT_EQ(ok.result.at("home"), "/nonexistent/" + name);
    EXPECT_EQ(ok.result.at("mailbox"), "maildir:$(home)/Maildir bsd:/var/mail/$(user)");

    EXPECT_EQ(login(m, name, "PamSecret2").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, name, "").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, name, std::string("PamSecret1\0x", 12)).status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, users.fresh_name(), "PamSecret1").status, MODPOP3D_E_NOUSER);
    // And a good login still works after the failures.
    EXPECT_EQ(login(m, name, "PamSecret1").status, MODPOP3D_OK);
}

TEST(Pam, AccountManagementFailureIsPerm)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string name = users.add("PamSecret1");
    users.modify(name, "--expiredate 1970-01-02");
    PamService svc(unix_stack);
    LoadedModule m(module_path(), {{"service", svc.name()}});
    EXPECT_EQ(login(m, name, "PamSecret1").status, MODPOP3D_E_PERM);
    EXPECT_EQ(login(m, name, "bad").status, MODPOP3D_E_BADPASS);
}

TEST(Pam, LockedAccountIsBadPass)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string name = users.add("PamSecret1");
    users.modify(name, "-L");
    PamService svc(unix_stack);
    LoadedModule m(module_path(), {{"service", svc.name()}});
    EXPECT_EQ(login(m, name, "PamSecret1").status, MODPOP3D_E_BADPASS);
}

TEST(Pam, StackOutcomesMapToStatuses)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string name = users.add("PamSecret1");
    {
        PamService deny("auth required pam_deny.so\naccount required pam_permit.so\n");
        LoadedModule m(module_path(), {{"service", deny.name()}});
        EXPECT_EQ(login(m, name, "PamSecret1").status, MODPOP3D_E_BADPASS);
    }
    {
        PamService acct_deny("auth required pam_unix.so\naccount required pam_deny.so\n");
        LoadedModule m(module_path(), {{"service", acct_deny.name()}});
        EXPECT_EQ(login(m, name, "PamSecret1").status, MODPOP3D_E_PERM);
    }
    {
        // A module that cannot be loaded: the stack is broken, not the user.
        PamService broken("auth required pam_modpop3d_missing.so\naccount required "
                          "pam_permit.so\n");
        LoadedModule m(module_path(), {{"service", broken.name()}});
        EXPECT_EQ(login(m, name, "PamSecret1").status, MODPOP3D_E_TEMP);
    }
}

TEST(Pam, RhostAndRuserReachTheStack)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string name = users.add("PamSecret1");
    TempDir dir;
    const std::string script = dir.path() + "/record.sh";
    const std::string out = dir.path() + "/seen";
    {
        std::ofstream f(script);
        f << "#!/bin/sh\nprintf '%s|%s|%s' \"$PAM_RHOST\" \"$PAM_RUSER\" \"$PAM_USER\" > " << out
          << "\n";
    }
    chmod(script.c_str(), 0700);
    PamService svc("auth required pam_exec.so quiet " + script +
                   "\nauth required pam_unix.so\naccount required pam_unix.so\n");
    LoadedModule m(module_path(), {{"service", svc.name()}});
    ASSERT_EQ(login(m, name, "PamSecret1", "192.0.2.77").status, MODPOP3D_OK);
    EXPECT_EQ(slurp(out), "192.0.2.77|" + name + "|" + name);
    // pam_exec does not see the password (no expose_authtok): and neither
    // does the file it wrote.
    EXPECT_EQ(slurp(out).find("PamSecret1"), std::string::npos);
}

TEST(Pam, MinUidAndMailGroup)
{
    REQUIRE_ROOT();
    TestUsers users;
    const std::string sys = users.add("PamSecret1", "-r");
    const std::string normal = users.add("PamSecret1");
    PamService svc(unix_stack);
    {
        LoadedModule m(module_path(), {{"service", svc.name()}});
        EXPECT_EQ(login(m, sys, "PamSecret1").status, MODPOP3D_E_PERM);
    }
    {
        LoadedModule m(
            module_path(),
            {{"service", svc.name()}, {"mail-group", "mail"}, {"mailbox", "bsd:/x/$(user)"}});
        const auto r = login(m, normal, "PamSecret1");
        ASSERT_EQ(r.status, MODPOP3D_OK);
        const group *gr = getgrnam("mail");
        ASSERT_NE(gr, nullptr);
        EXPECT_EQ(r.result.at("gid"), std::to_string(gr->gr_gid));
        EXPECT_EQ(r.result.at("mailbox"), "bsd:/x/$(user)");
    }
}

} // namespace
