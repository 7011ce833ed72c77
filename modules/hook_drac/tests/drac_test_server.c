/*
 * drac_test_server.c - a small DRAC server for hook_drac's tests, built on
 * the dispatcher rpcgen makes from ../drac.x (the same interface definition
 * the module is built from). It serves DRACPROG versions 1 and 2 on
 * 127.0.0.1 over UDP and/or TCP at the given ports, registers nothing with a
 * portmapper, and appends one line per call to the log file:
 *   "v1 192.0.2.1" / "v2 ::1"
 * answering the status given with --status (default success).
 *
 * usage: drac_test_server --log FILE [--udp PORT] [--tcp PORT]
 *                         [--status success|perm|syserr]
 */
#include "drac.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void dracprog_1(struct svc_req *rqstp, SVCXPRT *transp);
void dracprog_2(struct svc_req *rqstp, SVCXPRT *transp);

static FILE *log_file;
static addstat answer = ADD_SUCCESS;

static void record(const char *line)
{
    fprintf(log_file, "%s\n", line);
    fflush(log_file);
}

addstat *dracproc_add_1_svc(drac_add_parm *argp, struct svc_req *rqstp)
{
    static addstat result;
    char line[64];
    unsigned long a = argp->ip_addr;
    (void)rqstp;
    snprintf(line, sizeof line, "v1 %lu.%lu.%lu.%lu", (a >> 24) & 255, (a >> 16) & 255,
             (a >> 8) & 255, a & 255);
    record(line);
    result = answer;
    return &result;
}

addstat *dracproc_add6_2_svc(drac_add_parm6 *argp, struct svc_req *rqstp)
{
    static addstat result;
    char text[INET6_ADDRSTRLEN];
    char line[80];
    unsigned char bytes[16];
    (void)rqstp;
    memcpy(bytes, argp->ip_addr6, sizeof bytes);
    if (inet_ntop(AF_INET6, bytes, text, sizeof text) == NULL)
        strcpy(text, "?");
    snprintf(line, sizeof line, "v2 %s", text);
    record(line);
    result = answer;
    return &result;
}

static int bound_socket(int type, int port)
{
    struct sockaddr_in sin;
    int one = 1;
    int fd = socket(AF_INET, type, 0);
    if (fd < 0) {
        perror("socket");
        exit(2);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        perror("bind");
        exit(2);
    }
    return fd;
}

static void serve(SVCXPRT *xprt)
{
    /* protocol 0: do not register with a portmapper */
    if (xprt == NULL || !svc_register(xprt, DRACPROG, DRACVERS, dracprog_1, 0) ||
        !svc_register(xprt, DRACPROG, DRACVERS6, dracprog_2, 0)) {
        fprintf(stderr, "cannot set up the RPC service\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    int udp = 0, tcp = 0, i;
    const char *log_path = NULL;
    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--log") == 0)
            log_path = argv[i + 1];
        else if (strcmp(argv[i], "--udp") == 0)
            udp = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--tcp") == 0)
            tcp = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--status") == 0)
            answer = strcmp(argv[i + 1], "perm") == 0     ? ADD_PERM
                     : strcmp(argv[i + 1], "syserr") == 0 ? ADD_SYSERR
                                                          : ADD_SUCCESS;
    }
    if (log_path == NULL || (udp == 0 && tcp == 0) || i != argc) {
        fprintf(stderr, "usage: %s --log FILE [--udp PORT] [--tcp PORT] [--status S]\n", argv[0]);
        return 2;
    }
    log_file = fopen(log_path, "a");
    if (log_file == NULL) {
        perror(log_path);
        return 2;
    }
    if (udp != 0)
        serve(svcudp_create(bound_socket(SOCK_DGRAM, udp)));
    if (tcp != 0) {
        /* libtirpc listens only on sockets it bound itself */
        int fd = bound_socket(SOCK_STREAM, tcp);
        if (listen(fd, 64) != 0) {
            perror("listen");
            return 2;
        }
        serve(svctcp_create(fd, 0, 0));
    }
    record("ready");
    svc_run();
    return 1;
}
