// inetd.cpp - inetd mode: a one-connection master as root, one process
// otherwise (see inetd.hpp).
#include "process/inetd.hpp"

#include "config/core_config.hpp"
#include "modload/loader.hpp"
#include "modload/module_set.hpp"
#include "password/password.hpp"
#include "password/server_secret.hpp"
#include "process/master.hpp"
#include "process/privileges.hpp"
#include "util/log.hpp"
#include "worker/server.hpp"

#include <fcntl.h>
#include <iostream>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace modpop3d::daemon
{

namespace
{

// stdin_is_tcp - inetd hands over a TCP connection; anything else (a
// terminal, a pipe, a UNIX socket) is a mistake worth a clear refusal.
bool stdin_is_tcp()
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    return getsockname(STDIN_FILENO, reinterpret_cast<sockaddr *>(&ss), &len) == 0 &&
           (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

bool same_file(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

// take_connection - move the client's socket off standard input (to a
// descriptor above 2) and put /dev/null on standard input, and on standard
// output when it is the same socket. Every process the master forks
// inherits 0-2: only the login worker may hold the client, or the client
// would not see the session's end until the last of them exited. Standard
// error is the master's business (it still reports configuration errors
// there). -1 on failure.
int take_connection()
{
    int client = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (client < 0 || null < 0) {
        if (client >= 0)
            close(client);
        if (null >= 0)
            close(null);
        return -1;
    }
    if (same_file(STDOUT_FILENO, client))
        dup2(null, STDOUT_FILENO);
    dup2(null, STDIN_FILENO);
    close(null);
    return client;
}

// serve_as_root - the one-connection master (master.hpp).
int serve_as_root(const std::string &config_file, bool foreground_stderr)
{
    if (!stdin_is_tcp()) {
        log::init(foreground_stderr ? log::Target::Stderr : log::Target::Syslog, log::Err);
        log::write(log::Err, "", "event=inetd_error why=\"standard input is not a TCP socket\"");
        return 1;
    }
    MasterOptions options;
    options.config_file = config_file;
    options.log_to_stderr = foreground_stderr;
    options.inetd_fd = take_connection();
    if (options.inetd_fd < 0) {
        std::cerr << "modpop3d: cannot take the connection from standard input\n";
        return 1;
    }
    return run_master(options);
}

// serve_in_process - not root: load the modules and serve the session in
// this process, with the auth chain in-process.
int serve_in_process(const std::string &config_file, bool foreground_stderr)
{
    config::Diagnostics diags;
    config::Configuration conf;
    bool ok = config::load_configuration(config_file, conf, diags);
    // In inetd mode standard error may be the client's socket: log there
    // only when -e asks for it explicitly.
    bool to_stderr = foreground_stderr;
    log::init(to_stderr ? log::Target::Stderr : log::Target::Syslog,
              std::max(log::level_from_name(conf.core.log_level), log::Err), "modpop3d",
              conf.core.log_facility);
    modload::Loader loader(conf.core.module_dir);
    modload::ModuleSet modules;
    ok = modules.configure(conf.text, loader, diags) && ok;
    if (ok)
        ok = modules.instantiate(diags);
    if (!ok) {
        for (const auto &l : diags.lines())
            std::cerr << "modpop3d: " << l << '\n';
        std::cerr << "modpop3d: not started: fix the configuration (check with modpop3d -t -f "
                  << config_file << ")\n";
        return 1;
    }
    // Make the dummy hash now, so that the first unknown user costs what a
    // real verification costs and not also the making of the dummy.
    password::password_prepare();
    // The installation's key, loaded (or made) before any fork so that every
    // process derives the same keys from it.
    if (std::string why; !conf.core.secret_key_file.empty() &&
                         !password::server_secret_load(conf.core.secret_key_file, why)) {
        log::writef(log::Err, "", "event=not_started why=%s", log::quote(why).c_str());
        return 1;
    }
    (void)password::server_secret_derive("warm-up"); // made here when no file is set
    if (modules.of_kind(MODPOP3D_KIND_AUTH).empty())
        log::write(log::Warning, "", "event=no_auth_modules why=\"nobody can log in\"");
    // Block the loop's signals (those Server's signalfd takes) before any
    // thread exists (auth pool, module threads): threads inherit the mask,
    // so no thread but the loop's signalfd ever receives them.
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1})
        sigaddset(&mask, s);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);
    Server server(conf, modules);
    std::string why;
    if (!stdin_is_tcp()) {
        log::write(log::Err, "", "event=inetd_error why=\"standard input is not a TCP socket\"");
        return 1;
    }
    server.serve_inetd(STDIN_FILENO);
    if (!drop_privileges(conf.core, why, conf.core.login_chroot)) {
        std::cerr << "modpop3d: " << why << '\n';
        return 1;
    }
    if (!modules.process_init(diags)) {
        for (const auto &l : diags.lines())
            std::cerr << "modpop3d: " << l << '\n';
        return 1;
    }
    return server.run();
}

} // namespace

int serve_inetd_session(const std::string &config_file, bool foreground_stderr)
{
    if (geteuid() == 0)
        return serve_as_root(config_file, foreground_stderr);
    return serve_in_process(config_file, foreground_stderr);
}

} // namespace modpop3d::daemon
