/* httpc_int.h - internals shared by the files of lib/httpc only (never include elsewhere).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_HTTPC_HTTPC_INT_H
#define OBSFLOW_HTTPC_HTTPC_INT_H

#include "httpc/httpc.h"

/** A running digest (the EVP context stays private to httpc_util.c). */
struct httpc__sum {
    enum httpc_sum alg; /* HTTPC_SUM_NONE: updates are ignored */
    void *ctx;          /* EVP_MD_CTX *, owned */
};

/** Start a digest; HTTPC_SUM_NONE gives an inert one. */
NODISCARD enum err httpc__sum_begin(struct httpc__sum *s, enum httpc_sum alg, struct err_info *ei);
/** Feed bytes. */
void httpc__sum_update(struct httpc__sum *s, const void *p, size_t n);
/** Finish into hex ("" for an inert digest) and release the context. */
NODISCARD enum err httpc__sum_end(struct httpc__sum *s, char hex[HTTPC_SUM_HEX_MAX],
                                  struct err_info *ei);
/** Release the context without a result; safe to call twice. */
void httpc__sum_abort(struct httpc__sum *s);
/** Lower-case hex of @p n bytes into @p out (2n+1 bytes). */
void httpc__hex(const unsigned char *p, size_t n, char *out);

#endif
