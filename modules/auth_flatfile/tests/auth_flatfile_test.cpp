// auth_flatfile_test.cpp - auth_flatfile loaded through the core's loader and
// host services (tests/support/module_harness.hpp): logins and their result
// facts, reload on change, malformed lines, per-domain templates, hostile
// names, every password scheme, credentials lookup and missing files.
#include "module_harness.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using modpop3d::testing::LoadedModule;
using modpop3d::testing::module_path;
using modpop3d::testing::Settings;

namespace
{

// Secrets for the password "pw-Secret 1", made outside this code:
//   openssl passwd -6 -salt saltsaltsalt 'pw-Secret 1'    openssl passwd -1 -salt saltsalt ...
//   python3: crypt.crypt(pw, '$y$j9T$F5Jx5fExrKuPp53xLKQ..1'), crypt.crypt(pw, '$2b$05$abc...')
//   python3: hashlib md5 (hex), sha1 (base64), '*' + SHA1(SHA1(pw)) (MySQL 4.1)
//   echo -n 'pw-Secret 1' | argon2 saltsaltsalt -id -t 1 -m 10 -p 1 -e
//   python3: hashlib.pbkdf2_hmac('sha256', pw, b'saltsaltsaltsalt', 4096) -> StoredKey, ServerKey
constexpr const char *good = "pw-Secret 1";
const std::vector<std::pair<std::string, std::string>> secrets = {
    {"sha512", "$6$saltsaltsalt$D8RQyzTkX0JRmEt0NZU.7oXO677Q3qT583VDLdpXp.jwc/"
               "ZGmW2JkTlsd2j3zlhxGxXP4EHeCwq9z.Rcnj7wH0"},
    {"md5crypt", "$1$saltsalt$PXw3SsQ7amn6Pl1sc4Q6X/"},
    {"yescrypt", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$EotZgLH7qI1rrDZvoQ6v6WfnPmPX6yd2c3lbverELqC"},
    {"bcrypt", "$2b$05$abcdefghijklmnopqrstuunVAuDYiwlOWNpKbjAu8.0vvx8hJ7Hla"},
    {"crypt", "{CRYPT}$1$saltsalt$PXw3SsQ7amn6Pl1sc4Q6X/"},
    {"plain", "{PLAIN}pw-Secret 1"},
    {"md5", "{MD5}6af6156a33b6b302f9a5e0d4eb017b13"},
    {"sha1", "{SHA1}5w9z3qJpfOFX72eqEVSe0HOw+aI="},
    {"mysql", "{MYSQL}*F7B267354DAC1D90EA4C25AD329F2C9BDE79D7E2"},
    {"argon2id", "{ARGON2ID}$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$"
                 "CprHD+MaIDO2J1b8Ig+zozf7HjYs/aKsXuuWIm++TGg"},
    {"scram", "{SCRAM-SHA-256}4096:c2FsdHNhbHRzYWx0c2FsdA==:"
              "FL5wYDUg0kHw1tdWGmA7znqtK+7O1ohjz0tybix689I=:"
              "dq1kMFRmoHdFU3p0ojPnIMOtNc3mGMJENCTMe0GHmb8="},
};
const std::string &secret(const std::string &name)
{
    for (const auto &[n, s] : secrets)
        if (n == name)
            return s;
    throw std::out_of_range(name);
}

class FlatFile : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/modpop3d-auth_flatfile.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        so_ = module_path();
    }
    void TearDown() override
    {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    std::string write(const std::string &name, const std::string &text, mode_t mode = 0640)
    {
        const std::string path = dir_ + "/" + name;
        fs::create_directories(fs::path(path).parent_path());
        {
            std::ofstream f(path + ".tmp", std::ios::binary | std::ios::trunc);
            f << text;
        }
        chmod((path + ".tmp").c_str(), mode);
        // rename: a reader never sees half a file, and the inode changes.
        EXPECT_EQ(std::rename((path + ".tmp").c_str(), path.c_str()), 0);
        return path;
    }

    static std::map<std::string, std::string> facts(const std::string &user)
    {
        std::map<std::string, std::string> f{{"user", user}};
        const auto at = user.rfind('@');
        if (at != std::string::npos) {
            f["local_part"] = user.substr(0, at);
            f["domain"] = user.substr(at + 1);
        }
        return f;
    }

    int32_t login(LoadedModule &m, const std::string &user, const std::string &pass,
                  std::map<std::string, std::string> *result = nullptr)
    {
        auto s = m.session(facts(user));
        auto out = m.verify_plain(*s, user, pass);
        if (result != nullptr)
            *result = out.result;
        return out.status;
    }

    static bool logged(const LoadedModule &m, const std::string &needle)
    {
        for (const auto &l : m.log_lines())
            if (l.find(needle) != std::string::npos)
                return true;
        return false;
    }

    std::string dir_, so_;
};

TEST_F(FlatFile, LoginSetsTheResultFromTheLine)
{
    const std::string f = write(
        "users", "# test users\n"
                 "alice:" +
                     secret("sha512") +
                     ":5000:5001:/srv/alice:maildir:/srv/alice/Maildir bsd:/var/mail/alice\n");
    LoadedModule m(so_, {{"file", f}});
    std::map<std::string, std::string> r;
    ASSERT_EQ(login(m, "alice", good, &r), MODPOP3D_OK);
    EXPECT_EQ(r["user"], "alice");
    EXPECT_EQ(r["uid"], "5000");
    EXPECT_EQ(r["gid"], "5001");
    EXPECT_EQ(r["home"], "/srv/alice");
    EXPECT_EQ(r["mailbox"], "maildir:/srv/alice/Maildir bsd:/var/mail/alice");
    EXPECT_EQ(r.count("password"), 0u); // verify_plain never hands out the secret
}

TEST_F(FlatFile, DefaultsFillEmptyFields)
{
    const std::string f =
        write("users", "bob@example.org:{PLAIN}pw::::\ncarol@example.org:{PLAIN}pw:42\n");
    LoadedModule m(so_, {{"file", f},
                         {"uid", "7000"},
                         {"gid", "7001"},
                         {"home", "/srv/mail/$(domain)/$(local_part)"}});
    std::map<std::string, std::string> r;
    ASSERT_EQ(login(m, "bob@example.org", "pw", &r), MODPOP3D_OK);
    EXPECT_EQ(r["user"], "bob@example.org");
    EXPECT_EQ(r["uid"], "7000");
    EXPECT_EQ(r["gid"], "7001");
    EXPECT_EQ(r["home"], "/srv/mail/example.org/bob");
    EXPECT_EQ(r["mailbox"], "maildir:$(home)/Maildir"); // the core expands it
    r.clear();
    ASSERT_EQ(login(m, "carol@example.org", "pw", &r), MODPOP3D_OK);
    EXPECT_EQ(r["uid"], "42"); // the line's uid wins over the default
    EXPECT_EQ(r["gid"], "7001");
}

TEST_F(FlatFile, NoDefaultsMeansNoFacts)
{
    const std::string f = write("users", "dave:{PLAIN}pw\n");
    LoadedModule m(so_, {{"file", f}, {"default-mailbox", "bsd:/var/mail/$(user)"}});
    std::map<std::string, std::string> r;
    ASSERT_EQ(login(m, "dave", "pw", &r), MODPOP3D_OK);
    EXPECT_EQ(r.count("uid"), 0u);
    EXPECT_EQ(r.count("gid"), 0u);
    EXPECT_EQ(r.count("home"), 0u);
    EXPECT_EQ(r["mailbox"], "bsd:/var/mail/$(user)");
}

TEST_F(FlatFile, WrongPasswordAndUnknownUser)
{
    const std::string f = write("users", "alice:" + secret("sha512") + "\n");
    LoadedModule m(so_, {{"file", f}});
    EXPECT_EQ(login(m, "alice", "pw-Secret 2"), MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "alice", ""), MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "alice", std::string(good) + '\0'), MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "mallory", good), MODPOP3D_E_NOUSER);
    EXPECT_EQ(login(m, "Alice", good), MODPOP3D_E_NOUSER); // case matters by default
}

TEST_F(FlatFile, LowercaseFoldsBothSides)
{
    const std::string f = write("users", "Alice:{PLAIN}pw\n");
    LoadedModule m(so_, {{"file", f}, {"lowercase", "yes"}});
    std::map<std::string, std::string> r;
    ASSERT_EQ(login(m, "ALICE", "pw", &r), MODPOP3D_OK);
    EXPECT_EQ(r["user"], "alice");
}

TEST_F(FlatFile, EverySchemeThroughTheModule)
{
    std::string text;
    for (const auto &[name, s] : secrets)
        text += name + ":" + s + "\n";
    const std::string f = write("users", text);
    LoadedModule m(so_, {{"file", f}});
    for (const auto &[name, s] : secrets) {
        EXPECT_EQ(login(m, name, good), MODPOP3D_OK) << name;
        EXPECT_EQ(login(m, name, "pw-Secret 2"), MODPOP3D_E_BADPASS) << name;
    }
}

TEST_F(FlatFile, UnsupportedSecretIsRefusedAndLogged)
{
    const std::string f = write("users", "# one\nodd:{NOSUCH}abc\nmd5:{MD5}123\n");
    LoadedModule m(so_, {{"file", f}});
    EXPECT_EQ(login(m, "odd", "abc"), MODPOP3D_E_PERM);
    EXPECT_EQ(login(m, "md5", "abc"), MODPOP3D_E_PERM);
    EXPECT_TRUE(logged(m, f + ":2")) << "the log names file:line";
    EXPECT_TRUE(logged(m, f + ":3"));
}

TEST_F(FlatFile, ChangedFileIsPickedUp)
{
    const std::string f = write("users", "alice:{PLAIN}old\n");
    LoadedModule m(so_, {{"file", f}, {"check-interval", "0"}});
    ASSERT_EQ(login(m, "alice", "old"), MODPOP3D_OK);
    write("users", "alice:{PLAIN}new\nbob:{PLAIN}bob\n");
    EXPECT_EQ(login(m, "alice", "new"), MODPOP3D_OK);
    EXPECT_EQ(login(m, "alice", "old"), MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "bob", "bob"), MODPOP3D_OK);
    // Rewritten in place (same inode), one byte longer.
    {
        std::ofstream out(f, std::ios::binary | std::ios::trunc);
        out << "alice:{PLAIN}newer\n";
    }
    EXPECT_EQ(login(m, "alice", "newer"), MODPOP3D_OK);
    EXPECT_EQ(login(m, "bob", "bob"), MODPOP3D_E_NOUSER);
}

TEST_F(FlatFile, ChangedFileIsPickedUpWithTheDefaultInterval)
{
    const std::string f = write("users", "alice:{PLAIN}old\n");
    LoadedModule m(so_, {{"file", f}});
    ASSERT_EQ(login(m, "alice", "old"), MODPOP3D_OK);
    write("users", "alice:{PLAIN}new\n");
    // Within about a second the new file is read; give it up to 10 s.
    int32_t st = MODPOP3D_E_BADPASS;
    for (int i = 0; i < 100 && st != MODPOP3D_OK; ++i) {
        st = login(m, "alice", "new");
        if (st != MODPOP3D_OK)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(st, MODPOP3D_OK);
}

TEST_F(FlatFile, MalformedLinesAreSkippedAndLogged)
{
    const std::string f = write("users", "good:{PLAIN}pw\n"
                                         "broken\n"
                                         "uid0:{PLAIN}pw:0\n"
                                         "also good:{PLAIN}pw\n"
                                         "fine:{PLAIN}pw:5:5:/h\n");
    LoadedModule m(so_, {{"file", f}});
    EXPECT_EQ(login(m, "good", "pw"), MODPOP3D_OK);
    EXPECT_EQ(login(m, "fine", "pw"), MODPOP3D_OK);
    EXPECT_EQ(login(m, "broken", ""), MODPOP3D_E_NOUSER);
    EXPECT_EQ(login(m, "uid0", "pw"), MODPOP3D_E_NOUSER);
    EXPECT_TRUE(logged(m, f + ":2"));
    EXPECT_TRUE(logged(m, f + ":3"));
    EXPECT_TRUE(logged(m, f + ":4"));
    EXPECT_FALSE(logged(m, f + ":1 "));
    EXPECT_FALSE(logged(m, f + ":5"));
}

TEST_F(FlatFile, PerDomainTemplate)
{
    write("users/example.org", "alice:{PLAIN}org\n");
    write("users/example.net", "alice:{PLAIN}net\nbob:{PLAIN}bob:9:9:/srv/bob\n");
    LoadedModule m(so_, {{"file", dir_ + "/users/$(domain)"}});
    std::map<std::string, std::string> r;
    ASSERT_EQ(login(m, "alice@example.org", "org", &r), MODPOP3D_OK);
    EXPECT_EQ(r["user"], "alice@example.org");
    EXPECT_EQ(login(m, "alice@example.org", "net"), MODPOP3D_E_BADPASS);
    EXPECT_EQ(login(m, "alice@example.net", "net"), MODPOP3D_OK);
    EXPECT_EQ(login(m, "bob@example.net", "bob", &r), MODPOP3D_OK);
    EXPECT_EQ(r["uid"], "9");
    EXPECT_EQ(login(m, "bob@example.org", "bob"), MODPOP3D_E_NOUSER);
    // A domain without a file is not ours: NOUSER, so another instance may answer.
    EXPECT_EQ(login(m, "alice@example.com", "org"), MODPOP3D_E_NOUSER);
    // A bare name has no domain: the template cannot be expanded.
    EXPECT_EQ(login(m, "alice", "org"), MODPOP3D_E_NOUSER);
    // A domain file created later is found.
    write("users/example.com", "carol:{PLAIN}com\n");
    EXPECT_EQ(login(m, "carol@example.com", "com"), MODPOP3D_OK);
}

TEST_F(FlatFile, HostileNamesNeverReachAPathNorMatch)
{
    // A file outside users/ that a path escape would reach, and one that a
    // wildcard or a prefix match would reach.
    write("secret", "x:{PLAIN}pw\n*:{PLAIN}pw\n%:{PLAIN}pw\n");
    write("users/example.org", "alice:{PLAIN}pw\n");
    LoadedModule m(so_, {{"file", dir_ + "/users/$(domain)"}});
    const std::string long_name(300, 'a');
    const std::vector<std::string> domains = {
        "../secret",
        "..",
        ".",
        "",
        "example.org/..",
        "example.org/../../secret",
        "%",
        "'",
        "*",
        "(",
        "example.org%00",
        "example.org\n",
        std::string("example.org\0x", 13),
        "example.org\x01",
        "example.org ",
        long_name,
    };
    for (const auto &d : domains) {
        std::map<std::string, std::string> f{
            {"user", "x@" + d}, {"local_part", "x"}, {"domain", d}};
        auto s = m.session(f);
        EXPECT_NE(m.verify_plain(*s, "x@" + d, "pw").status, MODPOP3D_OK) << "domain " << d;
    }
    const std::vector<std::string> locals = {"*",       "%",         "'",        "(",     "alice\n",
                                             "alice ",  "alice:",    "ALICE",    "alic",  "alice*",
                                             long_name, "alice\x7f", "../alice", "/alice"};
    for (const auto &l : locals) {
        std::map<std::string, std::string> f{
            {"user", l + "@example.org"}, {"local_part", l}, {"domain", "example.org"}};
        auto s = m.session(f);
        EXPECT_NE(m.verify_plain(*s, l + "@example.org", "pw").status, MODPOP3D_OK)
            << "local part " << l;
    }
    // The same names against a fixed file: not found, and no wildcard.
    LoadedModule fixed(so_, {{"file", dir_ + "/users/example.org"}});
    for (const auto &l : locals)
        EXPECT_NE(login(fixed, l, "pw"), MODPOP3D_OK) << "user " << l;
    EXPECT_EQ(login(fixed, "alice", "pw"), MODPOP3D_OK);
}

TEST_F(FlatFile, MissingFixedFileIsTempAndLogged)
{
    const std::string f = write("users", "alice:{PLAIN}pw\n");
    LoadedModule m(so_, {{"file", f}, {"check-interval", "0"}});
    ASSERT_EQ(login(m, "alice", "pw"), MODPOP3D_OK);
    ASSERT_EQ(std::remove(f.c_str()), 0);
    EXPECT_EQ(login(m, "alice", "pw"), MODPOP3D_E_TEMP);
    EXPECT_EQ(login(m, "nobody", "pw"), MODPOP3D_E_TEMP);
    EXPECT_TRUE(logged(m, "no such file"));
    write("users", "alice:{PLAIN}pw\n");
    EXPECT_EQ(login(m, "alice", "pw"), MODPOP3D_OK);
}

TEST_F(FlatFile, WorldWritableFileIsRefused)
{
    // conf_check refuses it up front (see ConfCheck); here it turns
    // world-writable while the server runs.
    const std::string f = write("users", "alice:{PLAIN}pw\n");
    LoadedModule m(so_, {{"file", f}, {"check-interval", "0"}});
    ASSERT_EQ(login(m, "alice", "pw"), MODPOP3D_OK);
    ASSERT_EQ(chmod(f.c_str(), 0666), 0);
    EXPECT_EQ(login(m, "alice", "pw"), MODPOP3D_E_TEMP);
    EXPECT_EQ(login(m, "alice", "pw"), MODPOP3D_E_TEMP);
    EXPECT_TRUE(logged(m, "world-writable"));
    ASSERT_EQ(chmod(f.c_str(), 0640), 0);
    EXPECT_EQ(login(m, "alice", "pw"), MODPOP3D_OK);
}

TEST_F(FlatFile, LookupCredentials)
{
    const std::string f = write("users", "plain:{plaintext}s3cret:5:6:/h\n"
                                         "hashed:" +
                                             secret("sha512") +
                                             "\n"
                                             "scram:" +
                                             secret("scram") + ":5:6\n");
    LoadedModule m(so_, {{"file", f}});
    auto s = m.session(facts("plain"));
    auto out = m.lookup_credentials(*s, "plain", "PLAIN");
    ASSERT_EQ(out.status, MODPOP3D_OK);
    EXPECT_EQ(out.result["password"], "{PLAIN}s3cret");
    EXPECT_EQ(out.result["user"], "plain");
    EXPECT_EQ(out.result["uid"], "5");
    EXPECT_EQ(out.result["home"], "/h");
    EXPECT_EQ(m.lookup_credentials(*s, "plain", "SCRAM-SHA-256").status, MODPOP3D_E_NOTSUP);
    EXPECT_EQ(m.lookup_credentials(*s, "plain", "CRAM-MD5").status, MODPOP3D_E_NOTSUP);

    auto h = m.session(facts("hashed"));
    EXPECT_EQ(m.lookup_credentials(*h, "hashed", "PLAIN").status, MODPOP3D_E_NOTSUP);
    EXPECT_EQ(m.lookup_credentials(*h, "hashed", "SCRAM-SHA-256").status, MODPOP3D_E_NOTSUP);

    auto c = m.session(facts("scram"));
    out = m.lookup_credentials(*c, "scram", "SCRAM-SHA-256");
    ASSERT_EQ(out.status, MODPOP3D_OK);
    EXPECT_EQ(out.result["password"], secret("scram"));
    EXPECT_EQ(out.result["gid"], "6");
    EXPECT_EQ(m.lookup_credentials(*c, "scram", "PLAIN").status, MODPOP3D_E_NOTSUP);
    // A SCRAM-only user can still log in with USER/PASS.
    EXPECT_EQ(login(m, "scram", good), MODPOP3D_OK);

    auto u = m.session(facts("nobody"));
    EXPECT_EQ(m.lookup_credentials(*u, "nobody", "PLAIN").status, MODPOP3D_E_NOUSER);
}

TEST_F(FlatFile, ConfCheck)
{
    const std::string f = write("users", "alice:{PLAIN}pw\n");
    EXPECT_TRUE(LoadedModule::check(so_, {{"file", f}}).empty());
    EXPECT_TRUE(LoadedModule::check(so_, {{"file", dir_ + "/$(domain)"}}).empty());
    EXPECT_FALSE(LoadedModule::check(so_, {{"file", dir_ + "/nosuch"}}).empty());
    EXPECT_FALSE(LoadedModule::check(so_, {{"file", dir_ + "/nodir/$(domain)"}}).empty());
    EXPECT_FALSE(LoadedModule::check(so_, {{"file", "relative/users"}}).empty());
    EXPECT_FALSE(LoadedModule::check(so_, {{"file", f}, {"uid", "0"}}).empty());
    EXPECT_FALSE(LoadedModule::check(so_, {{"file", f}, {"uid", "no-such-user-xyz"}}).empty());
    EXPECT_FALSE(LoadedModule::check(so_, {{"file", f}, {"home", "rel/home"}}).empty());
    EXPECT_FALSE(LoadedModule::check(so_, {}).empty()); // file is required
    chmod(f.c_str(), 0666);
    EXPECT_FALSE(LoadedModule::check(so_, {{"file", f}}).empty());
}

TEST_F(FlatFile, ParallelLoginsWhileTheFileChanges)
{
    const std::string f = write("users", "alice:{PLAIN}a\nbob:{PLAIN}b\n");
    LoadedModule m(so_, {{"file", f}, {"check-interval", "0"}});
    EXPECT_NE(m.descriptor().flags & MODPOP3D_MODF_THREAD_SAFE, 0u);
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i)
                if (login(m, "alice", "a") != MODPOP3D_OK ||
                    login(m, "bob", "x") != MODPOP3D_E_BADPASS)
                    ++wrong;
        });
    for (int i = 0; i < 50; ++i)
        write("users",
              i % 2 ? "alice:{PLAIN}a\nbob:{PLAIN}b\n" : "bob:{PLAIN}b\nalice:{PLAIN}a\n#\n");
    for (auto &t : threads)
        t.join();
    EXPECT_EQ(wrong.load(), 0);
}

} // namespace
