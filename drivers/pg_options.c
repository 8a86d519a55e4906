/* pg_options.c - the `options` a PostgreSQL connection is opened with. */
#include "drivers/pg_options.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/buf.h"

/* Session settings every connection starts with, so that values have one text form
 * whatever the server's configuration says. They go after any `options` the dsn (or
 * PGOPTIONS) gives, and the server applies -c settings in order, so ours win for
 * these four and the user's other settings stay. */
#define PG_OPTIONS "-c DateStyle=ISO -c TimeZone=UTC -c extra_float_digits=1 -c bytea_output=hex"

/* The options to send: the user's (from the dsn, else PGOPTIONS), then ours. */
char *txs_pg_options(const char *dsn)
{
    const char *user = NULL;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &err);
    if (opts) {
        for (PQconninfoOption *o = opts; o->keyword; o++)
            if (strcmp(o->keyword, "options") == 0 && o->val && o->val[0])
                user = o->val;
    } else {
        PQfreemem(err); /* not key=value or a URI: a database name, or a bad dsn that
                           PQconnectStartParams reports */
    }
    if (!user)
        user = getenv("PGOPTIONS");
    char *out;
    if (user && user[0]) {
        size_t n = strlen(user) + 1 + sizeof PG_OPTIONS;
        out = txs_xmalloc(n);
        snprintf(out, n, "%s %s", user, PG_OPTIONS);
    } else {
        out = txs_xstrdup(PG_OPTIONS);
    }
    PQconninfoFree(opts);
    return out;
}
