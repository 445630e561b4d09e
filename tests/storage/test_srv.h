/* test_srv.h - start and stop the local fault HTTP server (http_fault_server.py) for the
 * storage and httpc tests: port 0, the port read back from a file, stopped by its PID.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_TESTS_STORAGE_TEST_SRV_H
#define OBSFLOW_TESTS_STORAGE_TEST_SRV_H

#include <sys/types.h>

struct test_srv {
    pid_t pid;       /* the python3 process we started */
    int port;        /* its port on 127.0.0.1 */
    char base[64];   /* "http://127.0.0.1:PORT" */
};

/** Start the server; returns 0, or -1 (message on stderr) when python3 or the script is
 * missing. @p scratch is a private directory for the port file. */
int test_srv_start(struct test_srv *s, const char *scratch);

/** As test_srv_start, speaking TLS with @p cert/@p key (PEM); when @p client_ca is not NULL
 * the server also requires a client certificate signed by it. base is "https://...". */
int test_srv_start_tls(struct test_srv *s, const char *scratch, const char *cert,
                       const char *key, const char *client_ca);

/** Stop the server we started (SIGTERM to its PID, then wait). */
void test_srv_stop(struct test_srv *s);

#endif
