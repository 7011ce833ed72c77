// test_auth_perl.cpp - auth_perl through the core's loader and host
// services, with real Perl scripts in real helper processes: every reply
// key, the request keys, die, a sub that never returns (while other calls
// are served), syntax errors at check time, oversized replies, non-ASCII
// names, recycling (bounded memory over 20,000 calls, `finish` runs),
// onlogin, the identity the interpreters run as, and the shipped example
// script, unchanged.
#include "test_users.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <gtest/gtest.h>
#include <module_harness.hpp>
#include <pwd.h>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace
{

namespace fs = std::filesystem;
using modpop3d::testing::AuthOutcome;
using modpop3d::testing::LoadedModule;
using modpop3d::testing::module_path;
using modpop3d::testing::Settings;

std::vector<std::string> lines_of(const std::string &path)
{
    std::vector<std::string> out;
    std::ifstream f(path);
    for (std::string l; std::getline(f, l);)
        out.push_back(l);
    return out;
}

std::string nobody_home()
{
    const passwd *pw = getpwnam("nobody");
    return pw ? pw->pw_dir : "";
}

// Dir - a temporary directory with the scripts, readable by nobody, and
// out/ where the scripts record what they saw.
class Dir
{
  public:
    Dir()
    {
        char tmpl[] = "/tmp/mp3perl-XXXXXX";
        if (mkdtemp(tmpl) == nullptr)
            throw std::runtime_error("mkdtemp");
        dir_ = tmpl;
        chmod(dir_.c_str(), 0755);
        fs::create_directory(out());
        chmod(out().c_str(), 0777);
        fs::copy_file(std::string(FIXTURE_DIR) + "/fixture.pl", dir_ + "/fixture.pl");
        chmod((dir_ + "/fixture.pl").c_str(), 0644);
    }
    ~Dir() { fs::remove_all(dir_); }
    std::string path() const { return dir_; }
    std::string out() const { return dir_ + "/out"; }
    std::vector<std::string> out_lines(const std::string &f) const
    {
        return lines_of(out() + "/" + f);
    }
    std::string write(const std::string &name, const std::string &text) const
    {
        const std::string p = dir_ + "/" + name;
        std::ofstream(p) << text;
        chmod(p.c_str(), 0644);
        return p;
    }

    // settings - the fixture script with its out/ dir, nobody/nogroup
    // when root (the module refuses to run Perl as root).
    Settings settings(const std::string &script = "fixture.pl",
                      const std::string &timeout = "5s") const
    {
        Settings s{{"start", "our $out = '" + out() + "'; do '" + dir_ + "/" + script + "';"},
                   {"pass", "pass"},
                   {"onlogin", "onlogin"},
                   {"timeout", timeout}};
        if (modpop3d::testing::running_as_root()) {
            s.emplace_back("user", "nobody");
            s.emplace_back("group", "nogroup");
        }
        return s;
    }

  private:
    std::string dir_;
};

AuthOutcome login(LoadedModule &m, const std::string &user, const std::string &pass = "secret")
{
    auto s = m.session({{"client_ip", "127.0.0.1"}, {"local_ip", "127.0.0.2"}});
    return m.verify_plain(*s, user, pass);
}

bool logged(const LoadedModule &m, const std::string &needle)
{
    for (const auto &l : m.log_lines())
        if (l.find(needle) != std::string::npos)
            return true;
    return false;
}

std::string joined_log(const LoadedModule &m)
{
    std::string all;
    for (const auto &l : m.log_lines())
        all += l + "\n";
    return all;
}

TEST(Perl, DescriptorAndSchema)
{
    Dir d;
    LoadedModule m(module_path(), d.settings(), "descr");
    EXPECT_STREQ(m.descriptor().name, "auth_perl");
    // Calls run in parallel, each in its own helper process.
    EXPECT_TRUE(m.descriptor().flags & MODPOP3D_MODF_THREAD_SAFE);
    EXPECT_TRUE(m.descriptor().flags & MODPOP3D_MODF_BLOCKING);
    EXPECT_FALSE(m.descriptor().flags & MODPOP3D_MODF_NEEDS_ROOT);
    EXPECT_EQ(m.auth().caps, MODPOP3D_AUTHC_PLAIN);
    EXPECT_NE(m.auth().on_login, nullptr);
}

TEST(Perl, EveryReplyKey)
{
    Dir d;
    LoadedModule m(module_path(), d.settings(), "keys");
    const auto alice = login(m, "alice", "wonderland");
    ASSERT_EQ(alice.status, MODPOP3D_OK) << joined_log(m);
    EXPECT_EQ(alice.result.at("user"), "alice");
    EXPECT_EQ(alice.result.at("uid"), std::to_string(getpwnam("nobody")->pw_uid));
    EXPECT_EQ(alice.result.at("gid"), std::to_string(getgrnam("nogroup")->gr_gid));
    EXPECT_EQ(alice.result.at("home"), nobody_home());
    // No mailbox in the reply: the instance's template.
    EXPECT_EQ(alice.result.at("mailbox"), "maildir:$(home)/Maildir bsd:/var/mail/$(user)");

    // uid by number, mailbox + mboxtype, domain (logged only) and logmsg.
    const auto bob = login(m, "bob");
    ASSERT_EQ(bob.status, MODPOP3D_OK);
    EXPECT_EQ(bob.result.at("uid"), "65534");
    EXPECT_EQ(bob.result.at("mailbox"), "bsd:/var/mail/bob");
    EXPECT_TRUE(logged(m, "event=perl_message sub=pass text=\"bob is fine\""));
    // mailbox as "type:/path" without mboxtype.
    EXPECT_EQ(login(m, "carol").result.at("mailbox"), "maildir:/srv/mail/carol/");

    EXPECT_EQ(login(m, "alice", "wrong").status, MODPOP3D_E_BADPASS);
    EXPECT_TRUE(logged(m, "text=\"wrong password for alice\""));
    EXPECT_EQ(login(m, "unknown").status, MODPOP3D_E_BADPASS); // result NO
    EXPECT_EQ(login(m, "nouser").status, MODPOP3D_E_NOUSER);
    EXPECT_EQ(login(m, "temp").status, MODPOP3D_E_TEMP);
    EXPECT_EQ(login(m, "root").status, MODPOP3D_E_PERM);   // uid 0
    EXPECT_EQ(login(m, "daemon").status, MODPOP3D_E_PERM); // below min-uid
    for (const char *u : {"bogus", "noresult", "nouid", "nogid", "ghost", "badmailbox"})
        EXPECT_EQ(login(m, u).status, MODPOP3D_E_TEMP) << u;
    // Empty or NUL-holding passwords never reach the script.
    EXPECT_EQ(login(m, "alice", "").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "alice", std::string("wonderland\0", 11)).status, MODPOP3D_E_BADPASS);
}

TEST(Perl, RequestKeysAndLogFunctions)
{
    Dir d;
    LoadedModule m(module_path(), d.settings(), "request");
    auto s = m.session({{"client_ip", "192.0.2.7"},
                        {"local_ip", "192.0.2.1"},
                        {"local_part", "alice"},
                        {"domain", "example.org"}});
    EXPECT_EQ(m.verify_plain(*s, "alice@example.org", "pw12").status, MODPOP3D_E_BADPASS);
    // TPOP3D::log_print, at info; the password's length only.
    EXPECT_TRUE(logged(m, "event=perl_log text=\"request clienthost=192.0.2.7 domain=example.org "
                          "local_part=alice method=PASS pass=4bytes serverhost=192.0.2.1 "
                          "user=alice@example.org\""))
        << joined_log(m);
    // modpop3d::log with a level, and warn() routed to the log.
    EXPECT_EQ(login(m, "level").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "warns").status, MODPOP3D_E_BADPASS);
    bool level = false, warned = false;
    for (const auto &l : m.log_lines()) {
        level = level || (l.find("level=warning") != std::string::npos &&
                          l.find("a warning from perl") != std::string::npos);
        warned = warned || (l.find("level=warning") != std::string::npos &&
                            l.find("careful now") != std::string::npos);
    }
    EXPECT_TRUE(level) << joined_log(m);
    EXPECT_TRUE(warned) << joined_log(m);
}

TEST(Perl, NeverRunsAsRoot)
{
    Dir d;
    LoadedModule m(module_path(), d.settings(), "whoami");
    EXPECT_EQ(login(m, "whoami").status, MODPOP3D_E_BADPASS);
    const std::string me = std::to_string(
        modpop3d::testing::running_as_root() ? getpwnam("nobody")->pw_uid : geteuid());
    EXPECT_TRUE(logged(m, "text=\"uid=" + me + " euid=" + me + " context=auth_perl\""))
        << joined_log(m);
    if (modpop3d::testing::running_as_root()) {
        // Root without `user`: refused at process_init, and no Perl ran.
        Settings s = d.settings();
        s.erase(s.end() - 2, s.end());
        EXPECT_THROW(LoadedModule(module_path(), s, "asroot"), std::runtime_error);
    }
}

TEST(Perl, DieIsTempAndLoggedWithThePerlError)
{
    Dir d;
    LoadedModule m(module_path(), d.settings(), "die");
    EXPECT_EQ(login(m, "dies").status, MODPOP3D_E_TEMP);
    EXPECT_TRUE(logged(m, "event=perl_error sub=pass error=\"database exploded\""))
        << joined_log(m);
    EXPECT_EQ(login(m, "notahash").status, MODPOP3D_E_TEMP);
    EXPECT_TRUE(logged(m, "did not return a hash reference"));
    EXPECT_EQ(login(m, "undef").status, MODPOP3D_E_TEMP);
    // A script that exits kills its helper: TEMP, and the next call gets a
    // fresh one.
    EXPECT_EQ(login(m, "exits").status, MODPOP3D_E_TEMP);
    EXPECT_TRUE(logged(m, "event=perl_failure"));
    // The password never reaches the log, even in a die message.
    EXPECT_EQ(login(m, "dies-with-password", "hunter2-secret").status, MODPOP3D_E_TEMP);
    EXPECT_TRUE(logged(m, "cannot check <password> today")) << joined_log(m);
    EXPECT_FALSE(logged(m, "hunter2-secret"));
    // And the helpers still answer.
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK);
}

TEST(Perl, InfiniteLoopIsKilledWhileOthersAreServed)
{
    Dir d;
    Settings s = d.settings("fixture.pl", "3s");
    s.emplace_back("helpers", "2");
    LoadedModule m(module_path(), s, "loop");
    std::atomic<bool> loop_done{false};
    int32_t loop_status = MODPOP3D_OK;
    std::thread looper([&] {
        loop_status = login(m, "loop").status;
        loop_done = true;
    });
    // Wait (bounded) until the loop runs in its helper.
    for (int i = 0; i < 500 && d.out_lines("looping").empty(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_EQ(d.out_lines("looping").size(), 1u);
    // Other users log in meanwhile, through the other helper.
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK);
    EXPECT_FALSE(loop_done.load()) << "the loop was answered before the others";
    looper.join();
    EXPECT_EQ(loop_status, MODPOP3D_E_TEMP);
    EXPECT_TRUE(logged(m, "did not answer within 3000ms: helper killed")) << joined_log(m);
    // The looping helper is gone (killed, reaped by the spawner).
    const std::string pid = d.out_lines("looping").at(0);
    for (int i = 0; i < 250 && fs::exists("/proc/" + pid); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(fs::exists("/proc/" + pid));
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK);
}

TEST(Perl, SyntaxErrorsAndBadConfigurationFailTheCheck)
{
    Dir d;
    EXPECT_TRUE(LoadedModule::check(module_path(), d.settings()).empty());
    d.write("broken.pl",
            "use strict;\nsub pass {\n  my ($r) = @_;\n  return { result => 'NO' ;\n}\n1;\n");
    auto errs = LoadedModule::check(module_path(), d.settings("broken.pl"));
    ASSERT_EQ(errs.size(), 1u);
    EXPECT_NE(errs[0].find("<test>:2"), std::string::npos) << errs[0]; // the start key's line
    EXPECT_NE(errs[0].find("syntax error"), std::string::npos) << errs[0];
    EXPECT_NE(errs[0].find("broken.pl line 5"), std::string::npos) << errs[0];
    // A start code that dies, a missing file, a missing sub.
    Settings s = d.settings();
    s[0].second = "die 'no database';";
    errs = LoadedModule::check(module_path(), s);
    ASSERT_EQ(errs.size(), 1u);
    EXPECT_NE(errs[0].find("no database"), std::string::npos) << errs[0];
    s[0].second = "do '" + d.path() + "/missing.pl';";
    errs = LoadedModule::check(module_path(), s);
    ASSERT_EQ(errs.size(), 1u);
    EXPECT_NE(errs[0].find("'pass' is not defined"), std::string::npos) << errs[0];
    // Required and exclusive keys; names.
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"pass", "pass"}}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"start", "1;"}}).empty());
    s = d.settings();
    s.emplace_back("auth-perl-pass", "pass");
    EXPECT_FALSE(LoadedModule::check(module_path(), s).empty());
    s = d.settings();
    s[1].second = "pass; system('x')";
    EXPECT_FALSE(LoadedModule::check(module_path(), s).empty());
    s = d.settings();
    s.emplace_back("user", "root");
    EXPECT_FALSE(LoadedModule::check(module_path(), s).empty());
    s = d.settings();
    s.emplace_back("max-use", "0");
    EXPECT_FALSE(LoadedModule::check(module_path(), s).empty());
}

TEST(Perl, RunningInstanceNeverRereadsTheScript)
{
    // The spawner loaded the script once; fresh helpers (max-use 1: one
    // per call) are forks of it, so a broken file on disk changes nothing
    // until a reload, whose check refuses it.
    Dir d;
    Settings s = d.settings();
    s.emplace_back("max-use", "1");
    LoadedModule m(module_path(), s, "reread");
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK);
    d.write("fixture.pl", "sub pass { syntax error here\n");
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK) << joined_log(m);
    EXPECT_FALSE(LoadedModule::check(module_path(), s).empty());
}

TEST(Perl, FailingStartCodeIsRetriedAndOnlyThisInstanceFails)
{
    // The start code fails on its second run only (the first is the
    // check's): process_init still succeeds (the auth process and the other
    // modules' logins must not go down), logins get TEMP at once, and the
    // start code is tried again 5 s later.
    Dir d;
    Settings s = d.settings();
    s[0].second = "our $out = '" + d.out() + "'; record_start(); do '" + d.path() +
                  "/fixture.pl';"
                  "sub record_start { open(my $f, '>>', \"$out/starts\") or die; print $f \"x\\n\";"
                  " close $f; open(my $g, '<', \"$out/starts\") or die; my @l = <$g>;"
                  " die \"database down\\n\" if @l == 2; }";
    LoadedModule m(module_path(), s, "startfail");
    EXPECT_TRUE(logged(m, "event=perl_not_started reason=\"start code failed: database down\""))
        << joined_log(m);
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_E_TEMP);
    EXPECT_TRUE(logged(m, "next try within 5s"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5200));
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK) << joined_log(m);
    EXPECT_EQ(d.out_lines("starts").size(), 3u);
}

TEST(Perl, TpopKeyNamesAreAliases)
{
    Dir d;
    Settings s{
        {"auth-perl-start", "our $out = '" + d.out() + "'; do '" + d.path() + "/fixture.pl';"},
        {"auth-perl-pass", "pass"},
        {"auth-perl-onlogin", "onlogin"},
        {"auth-perl-finish", "record('finish', $$);"}};
    if (modpop3d::testing::running_as_root())
        s.emplace_back("user", "nobody");
    {
        LoadedModule m(module_path(), s, "alias");
        EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK);
    }
    // `finish` ran twice: after the check (`modpop3d -t` runs start, looks
    // for the subs, runs finish) and when the instance's helper ended.
    EXPECT_EQ(d.out_lines("finish").size(), 2u);
}

TEST(Perl, HugeRepliesAreRefused)
{
    Dir d;
    LoadedModule m(module_path(), d.settings(), "huge");
    EXPECT_EQ(login(m, "huge").status, MODPOP3D_E_TEMP);
    EXPECT_TRUE(logged(m, "oversized or binary key or value")) << joined_log(m);
    EXPECT_EQ(login(m, "manykeys").status, MODPOP3D_E_TEMP);
    EXPECT_TRUE(logged(m, "more than 64 keys"));
    // Huge input: a long password travels (it is the script's business).
    EXPECT_EQ(login(m, "alice", std::string(10000, 'p')).status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK);
}

TEST(Perl, NonAsciiNames)
{
    Dir d;
    LoadedModule m(module_path(), d.settings(), "utf8");
    const std::string joerg = "j\xc3\xb6rg";
    const auto r = login(m, joerg);
    ASSERT_EQ(r.status, MODPOP3D_OK) << joined_log(m);
    EXPECT_EQ(r.result.at("user"), joerg);
    EXPECT_TRUE(logged(m, "text=\"hallo " + joerg + "\"")) << joined_log(m);
    EXPECT_EQ(login(m, "j\xc3\xa4rg").status, MODPOP3D_E_BADPASS);
}

TEST(Perl, OnLoginGetsTheSessionAndItsReturnIsIgnored)
{
    Dir d;
    LoadedModule m(module_path(), d.settings(), "onlogin");
    auto s = m.session({{"user", "alice@example.org"},
                        {"local_part", "alice"},
                        {"domain", "example.org"},
                        {"client_ip", "192.0.2.7"},
                        {"local_ip", "192.0.2.1"}});
    EXPECT_EQ(m.auth().on_login(m.instance(), s->get()), MODPOP3D_OK);
    const auto seen = d.out_lines("onlogin");
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0], "clienthost=192.0.2.7 domain=example.org local_part=alice method=ONLOGIN "
                       "serverhost=192.0.2.1 user=alice@example.org");
    EXPECT_TRUE(logged(m, "sub=onlogin text=\"welcome alice@example.org\""));
}

TEST(Perl, RecyclingKeepsMemoryBounded)
{
    // The script leaks 20 kB per call: 20,000 calls would be ~400 MB in
    // one interpreter. With max-use 500 each helper leaks ~10 MB at most.
    Dir d;
    Settings s = d.settings();
    s.emplace_back("max-use", "500");
    s.emplace_back("helpers", "1");
    s.emplace_back("finish", "record('finish', $$);");
    LoadedModule m(module_path(), s, "recycle");
    constexpr int calls = 20000;
    for (int i = 0; i < calls; ++i)
        ASSERT_EQ(login(m, "leak").status, MODPOP3D_E_BADPASS) << i;
    long max_rss = 0, max_calls = 0;
    std::set<std::string> pids;
    for (const auto &l : m.log_lines()) {
        const auto at = l.find("rss_kb=");
        if (at == std::string::npos)
            continue;
        max_rss = std::max(max_rss, std::stol(l.substr(at + 7)));
        const auto p = l.find(" pid=", at);
        pids.insert(l.substr(p + 5, l.find(' ', p + 5) - p - 5));
        max_calls = std::max(max_calls, std::stol(l.substr(l.find("calls=", at) + 6)));
    }
    EXPECT_EQ(max_calls, 500);
    EXPECT_EQ(pids.size(), static_cast<std::size_t>(calls / 500));
    EXPECT_GT(max_rss, 0);
    EXPECT_LT(max_rss, 64 * 1024) << "a helper grew to " << max_rss << " kB";
    // Each helper ran `finish` when retired after its 500th call (plus the
    // check's interpreter).
    for (int i = 0; i < 250 && d.out_lines("finish").size() < pids.size() + 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(d.out_lines("finish").size(), pids.size() + 1);
}

TEST(Perl, ExampleScriptUnchanged)
{
    Dir d;
    const std::string users =
        d.write("users", "# login:password:uid:gid[:mailbox[:mboxtype]]\n"
                         "alice:wonderland:nobody:nogroup\n"
                         "bob@example.org:builder:65534:nogroup:/var/mail/bob:bsd\n");
    const std::string relay = d.out() + "/relay";
    // A byte-for-byte copy where the unprivileged interpreter can read it
    // (the source tree may be in a home directory closed to others).
    const std::string script = d.path() + "/tpop3d-auth.pl";
    fs::copy_file(std::string(EXAMPLE_DIR) + "/tpop3d-auth.pl", script);
    chmod(script.c_str(), 0644);
    Settings s{{"start", "our $users_file = '" + users + "'; our $relay_file = '" + relay +
                             "'; do '" + script + "';"},
               {"pass", "pass"},
               {"apop", "apop"},
               {"onlogin", "onlogin"}};
    if (modpop3d::testing::running_as_root())
        s.emplace_back("user", "nobody");
    LoadedModule m(module_path(), s, "example");
    EXPECT_EQ(login(m, "alice", "wonderland").status, MODPOP3D_OK) << joined_log(m);
    EXPECT_EQ(login(m, "alice", "wrong").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "mallory", "x").status, MODPOP3D_E_BADPASS);
    const auto bob = login(m, "bob@example.org", "builder");
    ASSERT_EQ(bob.status, MODPOP3D_OK);
    EXPECT_EQ(bob.result.at("mailbox"), "bsd:/var/mail/bob");
    EXPECT_TRUE(logged(m, "loaded 2 users from"));
    auto sess = m.session({{"user", "alice"}, {"client_ip", "192.0.2.9"}});
    EXPECT_EQ(m.auth().on_login(m.instance(), sess->get()), MODPOP3D_OK);
    const auto rl = lines_of(relay);
    ASSERT_EQ(rl.size(), 1u);
    EXPECT_NE(rl[0].find(" 192.0.2.9 alice"), std::string::npos) << rl[0];
}

} // namespace
