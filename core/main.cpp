// main.cpp - the modpop3d command line: administrative commands and, without
// them, the daemon.
#include "cli/commands.hpp"
#include "config/core_config.hpp"
#include "process/inetd.hpp"
#include "process/master.hpp"

#include <iostream>
#include <modpop3d/module.h>
#include <string>

namespace
{

void usage(std::ostream &out)
{
    out << "usage: modpop3d [-f FILE] [-e] [-d | -i] [-t | -n | -M]\n"
           "       modpop3d --version | --help\n"
           "\n"
           "  -f FILE    configuration file (default "
        << modpop3d::config::default_config_file()
        << ")\n"
           "  -e         log to stderr (whatever log-target says)\n"
           "  -d         detach: run in the background as a daemon (logs go to syslog)\n"
           "  -i         inetd mode: serve the one connection on standard input, then exit\n"
           "  -t         check the configuration and every module section, then exit\n"
           "  -n         print the effective configuration (defaults filled in), then exit\n"
           "  -M         list the modules in the module directory with ABI and keys\n"
           "Without -t, -n or -M the server runs (in the foreground unless -d) until SIGTERM;\n"
           "SIGHUP reloads the configuration.\n"
           "  --version  print the version and the module ABI\n"
           "\n"
           "See modpop3d(8) and modpop3d.conf(5).\n";
}

} // namespace

int main(int argc, char **argv)
{
    std::string file = modpop3d::config::default_config_file();
    char mode = 0;
    bool to_stderr = false;
    bool inetd = false;
    bool detach = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--version") {
            std::cout << "modpop3d " << MODPOP3D_VERSION << " (module ABI " << MODPOP3D_ABI_MAJOR
                      << "." << MODPOP3D_ABI_MINOR << ")\n";
            return 0;
        }
        if (a == "--help" || a == "-h") {
            usage(std::cout);
            return 0;
        }
        if (a == "-f") {
            if (i + 1 >= argc) {
                std::cerr << "modpop3d: -f needs a file name\n";
                return 2;
            }
            file = argv[++i];
        } else if (a == "-e") {
            to_stderr = true;
        } else if (a == "-i") {
            inetd = true;
        } else if (a == "-d") {
            detach = true;
        } else if (a == "-t" || a == "-n" || a == "-M") {
            mode = a[1];
        } else {
            std::cerr << "modpop3d: unknown option '" << a << "'\n";
            usage(std::cerr);
            return 2;
        }
    }
    switch (mode) {
    case 't':
        return modpop3d::cli::check_configuration(file, std::cout, std::cerr);
    case 'n':
        return modpop3d::cli::print_effective(file, std::cout, std::cerr);
    case 'M':
        return modpop3d::cli::list_modules(file, std::cout, std::cerr);
    default:
        if (inetd && detach) {
            std::cerr << "modpop3d: -d and -i exclude each other\n";
            return 2;
        }
        if (inetd)
            return modpop3d::daemon::serve_inetd_session(file, to_stderr);
        return modpop3d::daemon::run_master({file, to_stderr, detach});
    }
}
