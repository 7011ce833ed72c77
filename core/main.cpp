// main.cpp - modpop3d entry point: command line (placeholder until the
// configuration and loader land).
#include <cstdio>
#include <cstring>

int main(int argc, char **argv)
{
    if (argc > 1 && std::strcmp(argv[1], "--version") == 0) {
        std::printf("modpop3d %s\n", MODPOP3D_VERSION);
        return 0;
    }
    std::fprintf(stderr, "usage: modpop3d [--version]\n");
    return 2;
}
