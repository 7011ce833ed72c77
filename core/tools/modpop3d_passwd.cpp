// modpop3d_passwd.cpp - modpop3d-passwd: hash a password for a stored
// secret (flat files, SQL columns, LDAP attributes).
//
//   modpop3d-passwd [-s SCHEME] [--stdin] [USER]
//
// Reads the password from the terminal without echo (twice), or the first
// line of standard input with --stdin, and prints "USER:HASH" or "HASH".
#include "password/password.hpp"
#include "util/ascii.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <getopt.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <termios.h>
#include <unistd.h>

namespace
{

using modpop3d::password::password_max_length;

volatile sig_atomic_t caught_signal = 0;

extern "C" void on_signal(int sig)
{
    caught_signal = sig;
}

void usage(std::FILE *out)
{
    std::fprintf(out, "usage: modpop3d-passwd [-s SCHEME] [--stdin] [USER]\n"
                      "  -s, --scheme SCHEME  one of:");
    for (const auto &s : modpop3d::password::password_hash_schemes())
        std::fprintf(out, " %s", s.c_str());
    std::fprintf(out, " (default: yescrypt)\n"
                      "      --stdin          read the password from the first line of stdin\n"
                      "  -h, --help           this text\n"
                      "  -V, --version        print the version\n"
                      "Prints USER:HASH when USER is given, else HASH.\n");
}

// wipe - clear a string holding a password before it is released.
void wipe(std::string &s)
{
    if (!s.empty())
        explicit_bzero(s.data(), s.size());
    s.clear();
}

// read_line - one line from fd, without its "\n" (and a "\r" before it).
// nullopt on EOF before any byte, on a read error or a signal; throws when
// the line is too long.
std::optional<std::string> read_line(int fd)
{
    std::string line;
    for (;;) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0) {
            if (errno == EINTR && caught_signal == 0)
                continue;
            wipe(line);
            return std::nullopt;
        }
        if (n == 0) {
            if (line.empty())
                return std::nullopt;
            break;
        }
        if (c == '\n')
            break;
        if (line.size() >= password_max_length) {
            wipe(line);
            throw std::runtime_error("password too long (at most " +
                                     std::to_string(password_max_length) + " bytes)");
        }
        line.push_back(c);
    }
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    return line;
}

// Reads from the controlling terminal with echo off, restoring the terminal
// on the way out, also when a signal interrupts the prompt.
class Terminal
{
  public:
    Terminal()
    {
        fd_ = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd_ < 0)
            throw std::runtime_error("no terminal to read the password from (use --stdin)");
        struct sigaction sa {
        };
        sa.sa_handler = on_signal; // no SA_RESTART: read() returns EINTR
        sigemptyset(&sa.sa_mask);
        for (int i = 0; i < nsig; ++i)
            sigaction(signals[i], &sa, &old_[i]);
        if (tcgetattr(fd_, &saved_) == 0) {
            struct termios t = saved_;
            t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
            t.c_lflag |= ECHONL;
            restore_ = tcsetattr(fd_, TCSAFLUSH, &t) == 0;
        }
    }
    ~Terminal()
    {
        if (restore_)
            tcsetattr(fd_, TCSAFLUSH, &saved_);
        close(fd_);
        for (int i = 0; i < nsig; ++i)
            sigaction(signals[i], &old_[i], nullptr);
        if (caught_signal != 0)
            raise(caught_signal);
    }
    Terminal(const Terminal &) = delete;
    Terminal &operator=(const Terminal &) = delete;

    std::optional<std::string> prompt(const char *text)
    {
        (void)!write(fd_, text, std::strlen(text));
        return read_line(fd_);
    }

  private:
    static constexpr int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
    static constexpr int nsig = sizeof signals / sizeof signals[0];
    int fd_ = -1;
    bool restore_ = false;
    struct termios saved_ {
    };
    struct sigaction old_[nsig] {
    };
};

std::string password_from_terminal()
{
    Terminal tty;
    auto first = tty.prompt("Password: ");
    if (!first)
        throw std::runtime_error("no password read");
    auto second = tty.prompt("Retype password: ");
    if (!second) {
        wipe(*first);
        throw std::runtime_error("no password read");
    }
    const bool same = *first == *second;
    wipe(*second);
    if (!same) {
        wipe(*first);
        throw std::runtime_error("the passwords do not match");
    }
    return std::move(*first);
}

bool valid_user(const std::string &user)
{
    if (user.empty() || user.size() > 255)
        return false;
    for (unsigned char c : user)
        if (c == ':' || c < 0x21 || c == 0x7f)
            return false;
    return true;
}

} // namespace

int main(int argc, char **argv)
{
    std::string scheme = "yescrypt";
    bool from_stdin = false;
    enum { opt_stdin = 256 };
    static const struct option longopts[] = {
        {"scheme", required_argument, nullptr, 's'},
        {"stdin", no_argument, nullptr, opt_stdin},
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},
        {nullptr, 0, nullptr, 0},
    };
    for (int c; (c = getopt_long(argc, argv, "s:hV", longopts, nullptr)) != -1;) {
        switch (c) {
        case 's':
            scheme = modpop3d::util::ascii_lower(optarg);
            break;
        case opt_stdin:
            from_stdin = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            std::printf("modpop3d-passwd %s\n", MODPOP3D_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind > 1) {
        usage(stderr);
        return 2;
    }
    std::string user = optind < argc ? argv[optind] : "";
    if (optind < argc && !valid_user(user)) {
        std::fprintf(stderr, "modpop3d-passwd: invalid user name (empty, over 255 bytes, or "
                             "containing ':', white space or control characters)\n");
        return 2;
    }

    std::string password;
    try {
        if (from_stdin) {
            auto line = read_line(STDIN_FILENO);
            if (!line)
                throw std::runtime_error("no password on standard input");
            password = std::move(*line);
        } else {
            password = password_from_terminal();
        }
        if (password.empty())
            throw std::runtime_error("empty password refused");
        std::string hash = modpop3d::password::password_hash(scheme, password);
        if (scheme == "plain") {
            std::fprintf(stderr, "modpop3d-passwd: warning: {PLAIN} keeps the password in clear "
                                 "text; use it only where APOP or CRAM-MD5 needs it\n");
            if (password.find(':') != std::string::npos)
                std::fprintf(stderr, "modpop3d-passwd: warning: a {PLAIN} password with ':' "
                                     "cannot be stored in a flat file\n");
        }
        wipe(password);
        if (!user.empty())
            std::printf("%s:%s\n", user.c_str(), hash.c_str());
        else
            std::printf("%s\n", hash.c_str());
        wipe(hash);
        return std::fflush(stdout) == 0 ? 0 : 1;
    } catch (const std::invalid_argument &e) {
        wipe(password);
        std::fprintf(stderr, "modpop3d-passwd: %s\n", e.what());
        return 2;
    } catch (const std::exception &e) {
        wipe(password);
        std::fprintf(stderr, "modpop3d-passwd: %s\n", e.what());
        return 1;
    }
}
