// test_users.hpp - test support for the system-account auth modules: create
// throw-away system users with useradd (root only), remove them afterwards,
// and run small shell commands. Header-only, used by the tests of
// auth_passwd and auth_pam.
#pragma once

#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace modpop3d::testing
{

inline bool running_as_root()
{
    return geteuid() == 0;
}

// run - run `cmd` with /bin/sh, capture stdout; returns the exit status.
inline int run(const std::string &cmd, std::string *out = nullptr)
{
    FILE *f = popen(cmd.c_str(), "r");
    if (f == nullptr)
        return -1;
    char buf[512];
    std::size_t n = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (out != nullptr)
            out->append(buf, n);
    }
    const int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// run_retry - useradd/usermod/userdel fail while another test process holds
// the passwd lock (meson runs tests in parallel): retry a bounded number of
// times. `ok_status` is a second exit status that counts as success.
inline int run_retry(const std::string &cmd, int ok_status = 0)
{
    int st = -1;
    for (int i = 0; i < 50; ++i) {
        st = run(cmd + " >/dev/null 2>&1");
        if (st == 0 || st == ok_status)
            return 0;
        timespec ts{0, 100 * 1000 * 1000};
        nanosleep(&ts, nullptr);
    }
    return st;
}

// sha512_crypt - "$6$..." for `pass` made by openssl passwd -6 (tests keep
// passwords to letters and digits, so no quoting issue).
inline std::string sha512_crypt(const std::string &pass)
{
    std::string out;
    if (run("openssl passwd -6 '" + pass + "'", &out) != 0)
        throw std::runtime_error("openssl passwd failed");
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
        out.pop_back();
    return out;
}

// TestUsers - system users named mp3test_<pid>_<n>, deleted on destruction.
class TestUsers
{
  public:
    TestUsers() = default;
    TestUsers(const TestUsers &) = delete;
    TestUsers &operator=(const TestUsers &) = delete;
    ~TestUsers()
    {
        for (const auto &n : names_)
            (void)run_retry("userdel -f " + n, 6); // 6: no such user
    }

    // fresh_name - a name that is unique to this process and not yet created.
    std::string fresh_name()
    {
        return "mp3test_" + std::to_string(getpid()) + "_" + std::to_string(++n_);
    }

    // add - create a user whose password hash field is `hash` (a crypt
    // string, or "*"/"!..." for locked ones). `extra` goes to useradd
    // (e.g. "-r" for a system account below UID_MIN).
    std::string add_with_hash(const std::string &hash, const std::string &extra = "")
    {
        const std::string name = fresh_name();
        names_.push_back(name);
        // 9: "user exists" after a retried attempt that got through.
        if (run_retry("useradd -M -N -g users -s /usr/sbin/nologin -d /nonexistent/" + name +
                          " -p '" + hash + "' " + extra + " " + name,
                      9) != 0)
            throw std::runtime_error("useradd " + name + " failed");
        return name;
    }
    std::string add(const std::string &pass, const std::string &extra = "")
    {
        return add_with_hash(sha512_crypt(pass), extra);
    }
    void modify(const std::string &name, const std::string &args)
    {
        if (run_retry("usermod " + args + " " + name) != 0)
            throw std::runtime_error("usermod " + args + " " + name + " failed");
    }

  private:
    std::vector<std::string> names_;
    int n_ = 0;
};

// hostile_names - user names that must be refused or never match.
inline std::vector<std::string> hostile_names()
{
    return {"/",
            "..",
            "../../etc/passwd",
            "%",
            "'",
            "*",
            "(",
            "a'b",
            "root:x",
            "-root",
            "a b",
            "x\x01y",
            "bell\a",
            "tab\tx",
            "del\x7f",
            std::string(300, 'a'),
            "(uid=*)",
            "*)(|(uid=*",
            "%s%s%n",
            ".",
            "a/b"};
}

} // namespace modpop3d::testing
