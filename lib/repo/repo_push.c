/* repo_push.c - push one freshly built observation to a repository target and decide, from
 * what the target holds, whether that is a create (PUT), an update (merge into the stored
 * tree, keeping its UUIDs, then POST with If-Match), nothing (the merged tree's
 * accMetaChecksum equals the stored one) or a replace (Simple <-> Derived: DELETE then PUT).
 * Races (409 on PUT, 412 on POST) start again from GET, at most REPO_PUSH_ROUNDS rounds.
 * SPDX-License-Identifier: Apache-2.0 */
#include "repo/repo.h"
#include "repo/repo_int.h"

#include "caom/caom.h"
#include "core/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *repo_outcome_name(enum repo_outcome o)
{
    switch (o) {
    case REPO_CREATED:
        return "created";
    case REPO_UPDATED:
        return "updated";
    case REPO_UNCHANGED:
        return "unchanged";
    case REPO_REPLACED:
        return "replaced";
    }
    return "unknown";
}

/* A write that lost a race (409/412) may still have been applied: a retried request whose
 * first attempt reached the store answers 409/412 against its own result. The next round
 * recognises that state by its accMetaChecksum and reports the write, not "unchanged". */
struct push_state {
    bool tried;                            /* a write of this push may have been applied */
    enum repo_outcome tried_outcome;       /* what it was */
    char tried_acc[CAOM_CHECKSUM_URI_MAX]; /* the accMetaChecksum it would have stored */
};

/* The document to PUT for @p fresh (its own UUIDs) and the accMetaChecksum it stores. */
static enum err fresh_doc(const struct caom_observation *fresh,
                          char **xml,
                          size_t *len,
                          char acc[CAOM_CHECKSUM_URI_MAX],
                          struct err_info *ei)
{
    struct caom_observation *c = caom_observation_clone(fresh);
    if (!c) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    caom_checksum_update(c);
    (void)str_copy(acc, CAOM_CHECKSUM_URI_MAX, c->e.acc_meta_checksum);
    enum err e = caom_xml_write(c, xml, len, ei);
    caom_observation_free(c);
    return e;
}

/* The accMetaChecksum after a write: what the store answered, else what we computed (equal
 * to the server's computation unless the collection recomputes plane metadata). */
static void written_acc(const struct repo_write_result *wr,
                        const char *computed,
                        char out[CAOM_CHECKSUM_URI_MAX])
{
    (void)str_copy(out, CAOM_CHECKSUM_URI_MAX,
                   wr->acc_meta_checksum[0] ? wr->acc_meta_checksum : computed);
}

/* PUT @p fresh. ERR_CONFLICT is left to the caller (a race: again from GET). */
static enum err push_create(struct repo_target *t,
                            const struct caom_observation *fresh,
                            struct push_state *st,
                            enum repo_outcome outcome,
                            struct repo_push_result *r,
                            struct err_info *ei)
{
    char *xml = NULL;
    size_t len = 0;
    char acc[CAOM_CHECKSUM_URI_MAX];
    struct repo_write_result wr;
    memset(&wr, 0, sizeof wr);
    enum err e = fresh_doc(fresh, &xml, &len, acc, ei);
    if (e != ERR_OK) {
        goto out;
    }
    e = repo__target_put(t, fresh->collection, fresh->observation_id, xml, len, &wr, ei);
    if (e == ERR_CONFLICT) {
        st->tried = true;
        st->tried_outcome = outcome;
        (void)str_copy(st->tried_acc, sizeof st->tried_acc, acc);
        goto out;
    }
    if (e != ERR_OK) {
        goto out;
    }
    r->outcome = outcome;
    written_acc(&wr, acc, r->acc_meta_checksum);
out:
    free(xml);
    return e;
}

/* The stored observation @p existing has the kind of @p fresh: merge into it (stored UUIDs
 * kept), then nothing when its accMetaChecksum equals @p stored, else POST with If-Match. */
static enum err push_update(struct repo_target *t,
                            const struct caom_observation *fresh,
                            struct caom_observation *existing,
                            const char *stored,
                            struct push_state *st,
                            struct repo_push_result *r,
                            bool *again,
                            struct err_info *ei)
{
    char *xml = NULL;
    size_t len = 0;
    struct repo_write_result wr;
    memset(&wr, 0, sizeof wr);
    /* planes and artifacts the fresh build lacks are kept: files of one observation or plane
     * arrive in separate pushes (caom2pipe's cardinality); remove one with DELETE + push */
    enum err e = caom_merge(existing, fresh, false, NULL, ei);
    if (e != ERR_OK) {
        err_prefix(ei, "could not merge into %s: ", r->uri);
        goto out;
    }
    caom_checksum_update(existing);
    if (stored[0] && strcmp(existing->e.acc_meta_checksum, stored) == 0) {
        r->outcome = REPO_UNCHANGED;
        (void)str_copy(r->acc_meta_checksum, sizeof r->acc_meta_checksum, stored);
        goto out;
    }
    e = caom_xml_write(existing, &xml, &len, ei);
    if (e != ERR_OK) {
        goto out;
    }
    e = repo__target_post(t, fresh->collection, fresh->observation_id, xml, len,
                          stored[0] ? stored : NULL, &wr, ei);
    if (e == ERR_PRECONDITION) {
        /* changed since our GET, or our own retried POST already applied */
        st->tried = true;
        st->tried_outcome = REPO_UPDATED;
        (void)str_copy(st->tried_acc, sizeof st->tried_acc, existing->e.acc_meta_checksum);
        *again = true;
    } else if (e == ERR_NOT_FOUND) {
        *again = true; /* deleted since our GET: the next round creates it */
    } else if (e == ERR_OK) {
        r->outcome = REPO_UPDATED;
        written_acc(&wr, existing->e.acc_meta_checksum, r->acc_meta_checksum);
    }
out:
    free(xml);
    return e;
}

/* One GET-decide-write round. *@p again is set when a race sends us back to GET. */
static enum err push_round(struct repo_target *t,
                           const struct caom_observation *fresh,
                           struct push_state *st,
                           struct repo_push_result *r,
                           bool *again,
                           struct err_info *ei)
{
    struct repo_doc doc;
    memset(&doc, 0, sizeof doc);
    struct caom_observation *existing = NULL;
    char stored[CAOM_CHECKSUM_URI_MAX];
    enum err e;

    *again = false;
    e = repo_target_get(t, fresh->collection, fresh->observation_id, &doc, ei);
    if (e == ERR_NOT_FOUND) {
        e = push_create(t, fresh, st, REPO_CREATED, r, ei);
        *again = e == ERR_CONFLICT;
        goto out;
    }
    if (e != ERR_OK) {
        goto out;
    }
    e = caom_xml_read(doc.xml, doc.len, r->uri, &existing, ei);
    if (e != ERR_OK) {
        err_prefix(ei, "could not read the stored document of %s: ", r->uri);
        goto out;
    }
    (void)str_copy(stored, sizeof stored,
                   doc.acc_meta_checksum[0] ? doc.acc_meta_checksum
                                            : existing->e.acc_meta_checksum);
    if (st->tried && strcmp(stored, st->tried_acc) == 0) {
        /* our earlier write did land: report it, write nothing */
        r->outcome = st->tried_outcome;
        (void)str_copy(r->acc_meta_checksum, sizeof r->acc_meta_checksum, stored);
        goto out;
    }
    if (existing->kind == fresh->kind) {
        e = push_update(t, fresh, existing, stored, st, r, again, ei);
        goto out;
    }
    /* an update cannot change SimpleObservation into DerivedObservation or back */
    e = repo_target_delete(t, fresh->collection, fresh->observation_id, ei);
    if (e == ERR_OK || e == ERR_NOT_FOUND) {
        e = push_create(t, fresh, st, REPO_REPLACED, r, ei);
        *again = e == ERR_CONFLICT;
    }
out:
    caom_observation_free(existing);
    repo_doc_free(&doc);
    return e;
}

enum err repo_push(struct repo_target *t,
                   const struct caom_observation *fresh,
                   struct repo_push_result *res,
                   struct err_info *ei)
{
    if (!t || !fresh || !fresh->collection || !fresh->observation_id) {
        return err_set(ei, ERR_INVALID,
                       "cannot push an observation without a collection and "
                       "observationID");
    }
    if (!fresh->collection[0] || strlen(fresh->collection) > REPO_NAME_MAX ||
        !fresh->observation_id[0] || strlen(fresh->observation_id) > REPO_OBSID_MAX) {
        return err_set(ei, ERR_INVALID, "invalid observation URI caom:%.140s/%.260s",
                       fresh->collection, fresh->observation_id);
    }
    struct repo_push_result r;
    memset(&r, 0, sizeof r);
    (void)snprintf(r.uri, sizeof r.uri, "caom:%s/%s", fresh->collection, fresh->observation_id);
    struct push_state st;
    memset(&st, 0, sizeof st);
    enum err e = ERR_OK;
    for (r.rounds = 1; r.rounds <= REPO_PUSH_ROUNDS; r.rounds++) {
        bool again = false;
        e = push_round(t, fresh, &st, &r, &again, ei);
        if (!again) {
            break;
        }
    }
    if (r.rounds > REPO_PUSH_ROUNDS) {
        r.rounds = REPO_PUSH_ROUNDS;
        err_prefix(ei, "could not push %s: still changing after %d rounds: ", r.uri,
                   REPO_PUSH_ROUNDS);
        return e;
    }
    if (e != ERR_OK) {
        return e;
    }
    *res = r;
    return ERR_OK;
}
