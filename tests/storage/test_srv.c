/* test_srv.c - see test_srv.h.
 * SPDX-License-Identifier: Apache-2.0 */
#include "test_srv.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int test_srv_start(struct test_srv *s, const char *scratch)
{
    return test_srv_start_tls(s, scratch, NULL, NULL, NULL);
}

int test_srv_start_tls(struct test_srv *s, const char *scratch, const char *cert,
                       const char *key, const char *client_ca)
{
    const char *src = getenv("OBSFLOW_SOURCE_DIR");
    char script[1024];
    char portfile[1024];
    memset(s, 0, sizeof *s);
    if (!src || !scratch) {
        fprintf(stderr, "OBSFLOW_SOURCE_DIR or scratch dir not set\n");
        return -1;
    }
    snprintf(script, sizeof script, "%s/tests/storage/http_fault_server.py", src);
    static int seq;
    snprintf(portfile, sizeof portfile, "%s/http_port.%ld.%d", scratch, (long)getpid(), ++seq);
    unlink(portfile);
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        FILE *devnull = freopen("/dev/null", "r", stdin);
        (void)devnull;
        if (cert && client_ca) {
            execlp("python3", "python3", script, portfile, cert, key, client_ca, (char *)NULL);
        } else if (cert) {
            execlp("python3", "python3", script, portfile, cert, key, (char *)NULL);
        } else {
            execlp("python3", "python3", script, portfile, (char *)NULL);
        }
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 400; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            int port = 0;
            int ok = fscanf(f, "%d", &port);
            fclose(f);
            if (ok == 1 && port > 0) {
                s->port = port;
                snprintf(s->base, sizeof s->base, "%s://127.0.0.1:%d", cert ? "https" : "http",
                         port);
                unlink(portfile);
                return 0;
            }
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "fault server exited early\n");
            s->pid = 0;
            return -1;
        }
        struct timespec ts = {0, 25 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "fault server did not start\n");
    test_srv_stop(s);
    return -1;
}

void test_srv_stop(struct test_srv *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st;
        (void)waitpid(s->pid, &st, 0);
        s->pid = 0;
    }
}
