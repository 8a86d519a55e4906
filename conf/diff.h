/* diff.h - what a reload changes: two configurations compared key by key, each change
 * marked as applying live or needing a restart; and the copy of its db's settings that
 * each pool keeps, so that a reload may free the configuration it replaces. Pure: no
 * libuv, no logging. */
#ifndef TXS_CONF_DIFF_H
#define TXS_CONF_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/config.h"

typedef enum txs_conf_change_kind {
    TXS_CHANGE_KEY,        /* a key of [txscope], or of a db in both configurations */
    TXS_CHANGE_DB_ADDED,   /* a [db.NAME] only the new configuration has */
    TXS_CHANGE_DB_REMOVED, /* a [db.NAME] only the old configuration has */
    TXS_CHANGE_DEFAULT_DB, /* another first db: requests without "db" go there now */
    TXS_CHANGE_TOKEN,      /* a [tokens] entry added, removed, or given another secret */
} txs_conf_change_kind_t;

#define TXS_CONF_VALUE_MAX 256

typedef struct txs_conf_change {
    txs_conf_change_kind_t kind;
    char db[TXS_CONF_NAME_MAX + 1];  /* KEY of a db, DB_ADDED, DB_REMOVED; "" for [txscope] */
    char key[TXS_CONF_NAME_MAX + 1]; /* KEY: the key's name; TOKEN: the token's name */
    /* KEY, DEFAULT_DB: the values as a file would have them (a DSN's password masked);
     * "" for none. A secret (auth_token, a token) is never shown: both are "". */
    char from[TXS_CONF_VALUE_MAX];
    char to[TXS_CONF_VALUE_MAX];
    bool secret;  /* auth_token or a token: say only that it changed */
    bool restart; /* a key a reload may not change (listen, unix_socket, admin_listen, a
                     db's driver): the running value stays until a restart */
} txs_conf_change_t;

typedef struct txs_conf_diff {
    txs_conf_change_t *changes; /* [txscope] keys first, then by db in the new order */
    int n;
    int nrestart; /* how many of them have `restart` */
} txs_conf_diff_t;

/* Every difference between old and neu (both as txs_conf_load made them). */
void txs_conf_diff(const txs_conf_t *old, const txs_conf_t *neu, txs_conf_diff_t *out);
void txs_conf_diff_free(txs_conf_diff_t *d);

/* One change in a few words: "db main pool_size 5 -> 2", "max_pipeline 128 -> 64",
 * "db second added", "auth_token changed", "[tokens] web added". */
void txs_conf_change_describe(const txs_conf_change_t *c, char *buf, size_t len);

/* Puts old's values back into neu for every key a reload may not change: listen,
 * unix_socket, admin_listen, and the driver of every db both have; a db whose driver
 * changed gets all its old settings back (its new ones were written for the other
 * driver). */
void txs_conf_keep_restart_only(txs_conf_t *neu, const txs_conf_t *old);

/* dst becomes a deep copy of src (dst's strings are freed first: zero it before the
 * first copy). */
void txs_conf_db_copy(txs_db_conf_t *dst, const txs_db_conf_t *src);
/* Frees the strings a copy holds. */
void txs_conf_db_clear(txs_db_conf_t *db);

#endif
