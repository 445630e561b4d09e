/* db_int.h - internals shared by the files of lib/db (not for other modules).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_DB_DB_INT_H
#define OBSFLOW_DB_DB_INT_H

#include "db/db.h"

/** One embedded migration (generated table, terminated by .sql == NULL). */
struct db__migration {
    int version;      /* NNNN of the file name */
    const char *name; /* file name, for messages */
    const char *sql;  /* the whole file */
};
extern const struct db__migration db__migrations[];

struct pg_conn;
/** Route @p pg's notices to the hook of db_notice_hook_set (dropped when there is none). */
void db__notice_attach(struct pg_conn *pg);

#endif
