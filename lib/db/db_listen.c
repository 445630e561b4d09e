/* db_listen.c - a thread that holds LISTEN on one channel on its own connection and calls back
 * on each notification; reconnects with backoff. Used only as a wake-up hint.
 * SPDX-License-Identifier: Apache-2.0 */
#include "db_int.h"

#include "core/clock.h"
#include "core/str.h"

#include <ctype.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DB_CHANNEL_MAX 63

struct db_listener {
    char *conninfo;
    char channel[DB_CHANNEL_MAX + 1];
    db_notify_fn fn;
    void *arg;
    int stop_pipe[2]; /* write end closes/wakes the thread */
    atomic_bool stop;
    pthread_t thread;
};

/* Wait up to @p ms for the stop pipe; true when asked to stop. */
static bool db_listen_nap(struct db_listener *l, int ms)
{
    struct pollfd pf = {.fd = l->stop_pipe[0], .events = POLLIN};
    (void)poll(&pf, 1, ms);
    return atomic_load(&l->stop);
}

static void db_listen_session(struct db_listener *l, PGconn *pg)
{
    char sql[DB_CHANNEL_MAX + 16];
    snprintf(sql, sizeof sql, "LISTEN %s", l->channel);
    PGresult *r = PQexec(pg, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        return;
    }
    l->fn(l->arg); /* notifications may have been missed while disconnected */
    while (!atomic_load(&l->stop)) {
        struct pollfd pf[2] = {{.fd = PQsocket(pg), .events = POLLIN},
                               {.fd = l->stop_pipe[0], .events = POLLIN}};
        int n = poll(pf, 2, 1000);
        if (n < 0) {
            continue;
        }
        if (pf[1].revents != 0) {
            return;
        }
        if (n == 0) {
            continue;
        }
        if (PQconsumeInput(pg) == 0) {
            return; /* connection lost */
        }
        bool any = false;
        PGnotify *nt;
        while ((nt = PQnotifies(pg)) != NULL) {
            any = true;
            PQfreemem(nt);
        }
        if (any) {
            l->fn(l->arg);
        }
        if (PQstatus(pg) != CONNECTION_OK) {
            return;
        }
    }
}

static void *db_listen_main(void *arg)
{
    struct db_listener *l = arg;
    int backoff_ms = 100;
    while (!atomic_load(&l->stop)) {
        const char *const keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
        const char *const vals[] = {"5", l->conninfo, "obsflow-listen", NULL};
        PGconn *pg = PQconnectdbParams(keys, vals, 1);
        if (pg != NULL && PQstatus(pg) == CONNECTION_OK) {
            db__notice_attach(pg);
            backoff_ms = 100;
            db_listen_session(l, pg);
        }
        PQfinish(pg);
        if (db_listen_nap(l, backoff_ms)) {
            break;
        }
        backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
    }
    return NULL;
}

enum err db_listener_create(const char *conninfo,
                            const char *channel,
                            db_notify_fn fn,
                            void *arg,
                            struct db_listener **out,
                            struct err_info *ei)
{
    size_t n = channel != NULL ? strlen(channel) : 0;
    if (n == 0 || n > DB_CHANNEL_MAX ||
        !(isalpha((unsigned char)channel[0]) || channel[0] == '_')) {
        return err_set(ei, ERR_INVALID, "invalid channel name");
    }
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)channel[i]) && channel[i] != '_') {
            return err_set(ei, ERR_INVALID, "invalid channel name \"%s\"", channel);
        }
    }
    struct db_listener *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    l->conninfo = str_dup(conninfo);
    str_copy(l->channel, sizeof l->channel, channel);
    l->fn = fn;
    l->arg = arg;
    atomic_init(&l->stop, false);
    if (l->conninfo == NULL || pipe(l->stop_pipe) != 0) {
        free(l->conninfo);
        free(l);
        return err_set(ei, ERR_NOMEM, "could not create the listener");
    }
    if (pthread_create(&l->thread, NULL, db_listen_main, l) != 0) {
        close(l->stop_pipe[0]);
        close(l->stop_pipe[1]);
        free(l->conninfo);
        free(l);
        return err_set(ei, ERR_INTERNAL, "could not start the listener thread");
    }
    *out = l;
    return ERR_OK;
}

void db_listener_destroy(struct db_listener *l)
{
    if (l == NULL) {
        return;
    }
    atomic_store(&l->stop, true);
    if (write(l->stop_pipe[1], "x", 1) < 0) {
        /* the thread notices the flag within a second anyway */
    }
    pthread_join(l->thread, NULL);
    close(l->stop_pipe[0]);
    close(l->stop_pipe[1]);
    free(l->conninfo);
    free(l);
}
