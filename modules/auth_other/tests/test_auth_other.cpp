// test_auth_other.cpp - auth_other against fixture helpers: a well-behaved
// tpop3d helper, one that crashes, one that hangs, several that send garbage,
// and a checkpassword program. Fixtures are copied into a temporary directory
// (world-readable, so that the helper may run as nobody when we are root) and
// write what they saw into its out/ subdirectory.
#include "test_users.hpp"

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <gtest/gtest.h>
#include <module_harness.hpp>
#include <pwd.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace
{

namespace fs = std::filesystem;
using modpop3d::testing::AuthOutcome;
using modpop3d::testing::LoadedModule;
using modpop3d::testing::module_path;
using modpop3d::testing::Settings;

std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::vector<std::string> lines(const std::string &path)
{
    std::vector<std::string> out;
    std::ifstream f(path);
    for (std::string l; std::getline(f, l);)
        out.push_back(l);
    return out;
}

uid_t nobody_uid()
{
    const passwd *pw = getpwnam("nobody");
    return pw ? pw->pw_uid : 65534;
}

gid_t nogroup_gid()
{
    const group *gr = getgrnam("nogroup");
    return gr ? gr->gr_gid : 65534;
}

// Fixtures - a temporary directory holding fixture copies and out/.
class Fixtures
{
  public:
    Fixtures()
    {
        char tmpl[] = "/tmp/mp3other-XXXXXX";
        if (mkdtemp(tmpl) == nullptr)
            throw std::runtime_error("mkdtemp");
        dir_ = tmpl;
        chmod(dir_.c_str(), 0755);
        fs::create_directory(out());
        chmod(out().c_str(), 0777);
    }
    ~Fixtures() { fs::remove_all(dir_); }

    // install - copy fixture `src` (in the source tree) to `as`.
    std::string install(const std::string &src, const std::string &as)
    {
        const std::string dst = dir_ + "/" + as;
        fs::copy_file(std::string(FIXTURE_DIR) + "/" + src, dst);
        chmod(dst.c_str(), 0755);
        return dst;
    }
    std::string helper(const std::string &as) { return install("fixture_helper.py", as); }
    std::string out() const { return dir_ + "/out"; }
    std::vector<std::string> out_lines(const std::string &file) const
    {
        return lines(out() + "/" + file);
    }
    std::size_t spawns() const { return out_lines("spawns").size(); }

    // settings - program + a short timeout, and nobody/nogroup when root
    // (the module refuses to run a helper as root).
    Settings settings(const std::string &program, const std::string &timeout = "5s") const
    {
        Settings s{{"program", program}, {"timeout", timeout}};
        if (modpop3d::testing::running_as_root()) {
            s.emplace_back("user", "nobody");
            s.emplace_back("group", "nogroup");
        }
        return s;
    }

  private:
    std::string dir_;
};

AuthOutcome login(LoadedModule &m, const std::string &user, const std::string &pass)
{
    auto s = m.session({{"client_ip", "127.0.0.1"}, {"local_ip", "127.0.0.2"}});
    return m.verify_plain(*s, user, pass);
}

TEST(Other, DescriptorAndSchema)
{
    Fixtures fx;
    LoadedModule m(module_path(), fx.settings(fx.helper("helper-good")));
    EXPECT_STREQ(m.descriptor().name, "auth_other");
    EXPECT_TRUE(m.descriptor().flags & MODPOP3D_MODF_BLOCKING);
    EXPECT_EQ(m.auth().caps, MODPOP3D_AUTHC_PLAIN);
    EXPECT_NE(m.auth().on_login, nullptr);
    // Lazy start: nothing runs before the first request.
    EXPECT_EQ(fx.spawns(), 0u);
}

TEST(Other, ConfigurationErrors)
{
    Fixtures fx;
    const std::string prog = fx.helper("helper-good");
    EXPECT_TRUE(LoadedModule::check(module_path(), {{"program", prog}}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {}).empty()); // program is required
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"program", "relative/helper"}}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"program", fx.out() + "/missing"}}).empty());
    chmod(prog.c_str(), 0644);
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"program", prog}}).empty());
    chmod(prog.c_str(), 0755);
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"program", prog}, {"user", "root"}}).empty());
    EXPECT_FALSE(
        LoadedModule::check(module_path(), {{"program", prog}, {"user", "mp3-no-such-user"}})
            .empty());
    EXPECT_FALSE(
        LoadedModule::check(module_path(), {{"program", prog}, {"group", "nogroup"}}).empty());
    EXPECT_FALSE(
        LoadedModule::check(module_path(), {{"program", prog}, {"mode", "bogus"}}).empty());
    EXPECT_FALSE(
        LoadedModule::check(module_path(), {{"program", prog}, {"mail-user", "nobody"}}).empty());
    EXPECT_TRUE(
        LoadedModule::check(module_path(),
                            {{"program", prog}, {"mode", "checkpassword"}, {"mail-user", "nobody"}})
            .empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"program", prog}, {"timeout", "0"}}).empty());
}

TEST(Other, PassRequestsAndReplies)
{
    Fixtures fx;
    LoadedModule m(module_path(), fx.settings(fx.helper("helper-good")));

    const auto alice = login(m, "alice", "wonderland");
    ASSERT_EQ(alice.status, MODPOP3D_OK);
    EXPECT_EQ(alice.result.at("user"), "alice");
    EXPECT_EQ(alice.result.at("uid"), std::to_string(nobody_uid()));
    EXPECT_EQ(alice.result.at("gid"), std::to_string(nogroup_gid()));
    EXPECT_EQ(alice.result.at("home"), getpwnam("nobody")->pw_dir);
    EXPECT_EQ(alice.result.at("mailbox"), "maildir:$(home)/Maildir bsd:/var/mail/$(user)");

    const auto bob = login(m, "bob", "builder");
    ASSERT_EQ(bob.status, MODPOP3D_OK);
    EXPECT_EQ(bob.result.at("mailbox"), "bsd:/var/mail/bob");
    EXPECT_EQ(bob.result.at("uid"), "65534");

    EXPECT_EQ(login(m, "alice", "wrong").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "nobody-known", "x").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "eve", "x").status, MODPOP3D_E_NOUSER);
    EXPECT_EQ(login(m, "tempfail", "x").status, MODPOP3D_E_TEMP);
    EXPECT_EQ(login(m, "carol", "root").status, MODPOP3D_E_PERM);     // uid 0
    EXPECT_EQ(login(m, "dave", "daemon").status, MODPOP3D_E_PERM);    // below min-uid
    EXPECT_EQ(login(m, "mallory", "spaces").status, MODPOP3D_E_TEMP); // unusable mailbox
    EXPECT_EQ(login(m, "ghost", "ghost").status, MODPOP3D_E_TEMP);    // uid without passwd entry
    EXPECT_EQ(login(m, "alice", "").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "alice", std::string("wonderland\0", 11)).status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "alice", std::string(5000, 'p')).status, MODPOP3D_E_BADPASS);

    // One long-lived helper served all of it.
    EXPECT_EQ(fx.spawns(), 1u);
    const auto reqs = fx.out_lines("requests");
    ASSERT_FALSE(reqs.empty());
    EXPECT_EQ(reqs[0], R"({"clienthost": "127.0.0.1", "method": "PASS", "pass": "<10 bytes>", )"
                       R"("serverhost": "127.0.0.2", "user": "alice"})");
    // Empty, NUL-holding and over-long passwords never reached the helper.
    for (const auto &r : reqs)
        EXPECT_EQ(r.find("<0 bytes>"), std::string::npos) << r;
    EXPECT_EQ(reqs.size(), 10u);
}

TEST(Other, MinUidIsConfigurable)
{
    Fixtures fx;
    Settings s = fx.settings(fx.helper("helper-good"));
    s.emplace_back("min-uid", "1");
    LoadedModule m(module_path(), s);
    EXPECT_EQ(login(m, "dave", "daemon").status, MODPOP3D_OK);
    EXPECT_EQ(login(m, "carol", "root").status, MODPOP3D_E_PERM); // never root
}

TEST(Other, OnLoginNotification)
{
    Fixtures fx;
    LoadedModule m(module_path(), fx.settings(fx.helper("helper-good")));
    auto s = m.session({{"user", "alice"}, {"client_ip", "192.0.2.1"}, {"local_ip", "192.0.2.2"}});
    EXPECT_EQ(m.auth().on_login(m.instance(), s->get()), MODPOP3D_OK);
    const auto reqs = fx.out_lines("requests");
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0], R"({"clienthost": "192.0.2.1", "method": "ONLOGIN", )"
                       R"("serverhost": "192.0.2.2", "user": "alice"})");
    bool logged = false;
    for (const auto &l : m.log_lines())
        logged = logged || l.find("welcome alice") != std::string::npos;
    EXPECT_TRUE(logged);
}

TEST(Other, OnLoginCanBeDisabled)
{
    Fixtures fx;
    Settings st = fx.settings(fx.helper("helper-good"));
    st.emplace_back("onlogin", "no");
    LoadedModule m(module_path(), st);
    auto s = m.session({{"user", "alice"}});
    EXPECT_EQ(m.auth().on_login(m.instance(), s->get()), MODPOP3D_OK);
    EXPECT_EQ(fx.spawns(), 0u);
}

TEST(Other, HelperIdentityArgvAndEnvironment)
{
    Fixtures fx;
    const std::string prog = fx.helper("helper-good");
    LoadedModule m(module_path(), fx.settings(prog));
    ASSERT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK);
    const auto pids = fx.out_lines("spawns");
    ASSERT_EQ(pids.size(), 1u);
    const std::string proc = "/proc/" + pids[0];
    // The helper is still running: its argv is just the program, its
    // environment empty, and the password is in neither.
    const std::string cmdline = slurp(proc + "/cmdline");
    const std::string environ_ = slurp(proc + "/environ");
    // The kernel shows the interpreter for a #! script: the script path is
    // the last argument and nothing follows it.
    ASSERT_GE(cmdline.size(), prog.size() + 1);
    EXPECT_EQ(cmdline.substr(cmdline.size() - prog.size() - 1), prog + std::string(1, '\0'));
    EXPECT_EQ(cmdline.find("wonderland"), std::string::npos);
    EXPECT_EQ(environ_, "");
    const auto ident = fx.out_lines("ident");
    ASSERT_EQ(ident.size(), 1u);
    if (modpop3d::testing::running_as_root()) {
        const std::string g = std::to_string(nogroup_gid());
        EXPECT_EQ(ident[0], std::to_string(nobody_uid()) + " " + g + " " + g);
    } else {
        EXPECT_EQ(ident[0].substr(0, ident[0].find(' ')), std::to_string(getuid()));
    }
}

TEST(Other, RootWithoutUserIsRefused)
{
    if (!modpop3d::testing::running_as_root())
        GTEST_SKIP() << "only meaningful as root (the helper would run as root)";
    Fixtures fx;
    LoadedModule m(module_path(), {{"program", fx.helper("helper-good")}});
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_E_TEMP);
    EXPECT_EQ(fx.spawns(), 0u);
}

TEST(Other, CrashAfterFirstRequestIsRestarted)
{
    Fixtures fx;
    LoadedModule m(module_path(), fx.settings(fx.helper("helper-crash")));
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK);
    // The helper dies on the next request before answering: a fresh one
    // is started and asked the same question.
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK);
    EXPECT_EQ(fx.spawns(), 2u);
    EXPECT_EQ(login(m, "bob", "builder").status, MODPOP3D_OK);
    EXPECT_EQ(fx.spawns(), 3u);
}

TEST(Other, HelperThatAlwaysCrashesGivesTempAndBoundedRestarts)
{
    Fixtures fx;
    LoadedModule m(module_path(), fx.settings(fx.helper("helper-crashall")));
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_E_TEMP);
    EXPECT_EQ(fx.spawns(), 2u);
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_E_TEMP);
    EXPECT_EQ(fx.spawns(), 4u);
}

TEST(Other, HangingHelperTimesOutAndIsReplaced)
{
    Fixtures fx;
    LoadedModule m(module_path(), fx.settings(fx.helper("helper-hang"), "500ms"));
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_E_TEMP);
    const auto pids = fx.out_lines("spawns");
    ASSERT_EQ(pids.size(), 1u);
    // Killed and reaped: the pid is gone.
    EXPECT_EQ(kill(std::stoi(pids[0]), 0), -1);
    EXPECT_EQ(errno, ESRCH);
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK);
    EXPECT_EQ(fx.spawns(), 2u);
}

TEST(Other, GarbageRepliesAreTemp)
{
    // Framing errors: the helper is killed and the next request starts a new one.
    for (const char *name : {"helper-garbage-long", "helper-garbage-trailing",
                             "helper-garbage-text", "helper-garbage-result"}) {
        Fixtures fx;
        LoadedModule m(module_path(), fx.settings(fx.helper(name), "500ms"));
        EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_E_TEMP) << name;
        EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_E_TEMP) << name;
        EXPECT_EQ(fx.spawns(), 2u) << name;
    }
    {
        Fixtures fx; // well framed but incomplete: TEMP, the helper stays
        LoadedModule m(module_path(), fx.settings(fx.helper("helper-garbage-nouid"), "500ms"));
        EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_E_TEMP);
        EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_E_TEMP);
        EXPECT_EQ(fx.spawns(), 1u);
    }
}

TEST(Other, ProgramThatCannotRunIsTemp)
{
    Fixtures fx;
    const std::string prog = fx.helper("helper-good");
    LoadedModule m(module_path(), fx.settings(prog));
    fs::remove(prog); // gone after the configuration was checked
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_E_TEMP);
}

TEST(Other, HostileNames)
{
    Fixtures fx;
    LoadedModule m(module_path(), fx.settings(fx.helper("helper-good")));
    for (const auto &name : modpop3d::testing::hostile_names()) {
        const auto r = login(m, name, "wonderland");
        EXPECT_TRUE(r.status == MODPOP3D_E_NOUSER || r.status == MODPOP3D_E_BADPASS)
            << "name of " << name.size() << " bytes: " << r.status;
        EXPECT_TRUE(r.result.empty());
    }
    // The helper stayed in step with us through all of it.
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK);
    EXPECT_EQ(fx.spawns(), 1u);
}

// --- checkpassword mode ---------------------------------------------------

Settings checkpw_settings(Fixtures &fx, const std::string &timeout = "5s")
{
    Settings s = fx.settings(fx.install("fixture_checkpassword.py", "checkpw"), timeout);
    s.emplace_back("mode", "checkpassword");
    return s;
}

TEST(CheckPassword, ExitStatusesMapToOutcomes)
{
    Fixtures fx;
    LoadedModule m(module_path(), checkpw_settings(fx));
    const auto ok = login(m, "nobody", "secret");
    ASSERT_EQ(ok.status, MODPOP3D_OK);
    EXPECT_EQ(ok.result.at("user"), "nobody");
    EXPECT_EQ(ok.result.at("uid"), std::to_string(nobody_uid()));
    EXPECT_EQ(ok.result.at("home"), getpwnam("nobody")->pw_dir);
    EXPECT_EQ(login(m, "nobody", "wrong").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "tempfail", "x").status, MODPOP3D_E_TEMP);
    // Accepted, but no passwd entry and no mail-user: nothing to run as.
    EXPECT_EQ(login(m, "ghost", "secret").status, MODPOP3D_E_TEMP);
    // Over qmail's 512-byte limit: refused without running the program.
    const std::size_t before = lines(fx.out() + "/checkpw").size();
    EXPECT_EQ(login(m, "nobody", std::string(600, 's')).status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(lines(fx.out() + "/checkpw").size(), before);
}

TEST(CheckPassword, MailUserGivesTheIds)
{
    Fixtures fx;
    Settings s = checkpw_settings(fx);
    s.emplace_back("mail-user", "nobody");
    LoadedModule m(module_path(), s);
    const auto r = login(m, "ghost", "secret");
    ASSERT_EQ(r.status, MODPOP3D_OK);
    EXPECT_EQ(r.result.at("user"), "ghost");
    EXPECT_EQ(r.result.at("uid"), std::to_string(nobody_uid()));
}

TEST(CheckPassword, CredentialsOnlyOnFd3)
{
    Fixtures fx;
    Settings s = checkpw_settings(fx);
    const std::string prog = s[0].second;
    LoadedModule m(module_path(), s);
    ASSERT_EQ(login(m, "nobody", "secret").status, MODPOP3D_OK);
    const auto rec = lines(fx.out() + "/checkpw");
    ASSERT_EQ(rec.size(), 1u);
    // argv is [program, /bin/true], the environment is empty, and the
    // 15 bytes "nobody\0secret\0\0" arrived on fd 3 with an empty timestamp.
    EXPECT_NE(rec[0].find(R"("argv": [")" + prog + R"(", "/bin/true"])"), std::string::npos)
        << rec[0];
    EXPECT_NE(rec[0].find(R"("env": {})"), std::string::npos) << rec[0];
    EXPECT_NE(rec[0].find(R"("pass_len": 6)"), std::string::npos) << rec[0];
    EXPECT_NE(rec[0].find(R"("size": 15)"), std::string::npos) << rec[0];
    EXPECT_NE(rec[0].find(R"("stamp": "")"), std::string::npos) << rec[0];
    EXPECT_EQ(rec[0].find("secret"), std::string::npos);
    if (modpop3d::testing::running_as_root()) {
        EXPECT_NE(rec[0].find(R"("uid": )" + std::to_string(nobody_uid())), std::string::npos);
    }
}

TEST(CheckPassword, HangingProgramTimesOut)
{
    Fixtures fx;
    LoadedModule m(module_path(), checkpw_settings(fx, "500ms"));
    EXPECT_EQ(login(m, "slow", "x").status, MODPOP3D_E_TEMP);
    EXPECT_EQ(login(m, "nobody", "secret").status, MODPOP3D_OK);
}

TEST(CheckPassword, HostileNames)
{
    Fixtures fx;
    LoadedModule m(module_path(), checkpw_settings(fx));
    for (const auto &name : modpop3d::testing::hostile_names()) {
        const auto r = login(m, name, "secret");
        EXPECT_TRUE(r.status == MODPOP3D_E_NOUSER || r.status == MODPOP3D_E_BADPASS)
            << "name of " << name.size() << " bytes: " << r.status;
    }
}

} // namespace
