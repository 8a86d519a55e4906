/* config.h - txscoped's configuration: the ini file, then TXSCOPE_* environment overrides. */
#ifndef TXS_CONF_CONFIG_H
#define TXS_CONF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/log.h"

#define TXS_CONF_NAME_MAX 63 /* [db.NAME] and [tokens] names: 1..63 of [a-z0-9_] */

/* What a [db.NAME] on a backend whose DDL commits implicitly (MySQL) does with DDL
 * inside a transaction. */
typedef enum txs_ddl_policy {
    TXS_DDL_REFUSE = 0, /* error 0A000, nothing sent */
    TXS_DDL_ALLOW,      /* COMMIT first (as the server would), then the DDL alone */
} txs_ddl_policy_t;

/* One [db.NAME] section. Durations are in milliseconds; 0 means "off" where the
 * setting allows it (pool_recycle). */
typedef struct txs_db_conf {
    char name[TXS_CONF_NAME_MAX + 1];
    char *driver;                /* "postgresql" or "mysql" */
    char *dsn;                   /* a URI (or libpq key=value words); required */
    int pool_size;               /* max backend connections, default 10 */
    uint64_t pool_timeout_ms;    /* how long a session waits for a connection, default 30s */
    uint64_t pool_recycle_ms;    /* max age since opened, 0 = never; default 3600s */
    uint64_t connect_timeout_ms; /* default 10s */
    txs_ddl_policy_t ddl_in_transaction; /* default refuse */
    /* Added for the pool's lifecycle (issue 5). 0 means "off" for every duration here
     * but pre_ping_after. */
    int max_overflow;              /* connections beyond pool_size, closed when returned
                                      to a full pool; default 0 */
    int min_idle;                  /* connections opened at start and kept warm
                                      (<= pool_size); default 0 */
    uint64_t pool_idle_timeout_ms; /* close idle connections above min_idle; default 10m */
    bool pre_ping;                 /* check a connection idle > pre_ping_after before
                                      use; default on */
    uint64_t pre_ping_after_ms;    /* default 30s; 0 = check at every checkout */
    bool reset_always;             /* full reset (DISCARD ALL / reset_connection) at
                                      every return, not only when the session was seen
                                      changing state; default off */
    uint64_t query_timeout_ms;     /* cancel a statement running longer; default off */
    uint64_t idle_in_transaction_timeout_ms; /* roll back a transaction idle between
                                                statements; default 1m */
    uint64_t transaction_timeout_ms;         /* roll back a transaction open longer; default off */
    uint64_t session_idle_timeout_ms;        /* forget a ctx with no transaction and no request;
                                                default 1m */
} txs_db_conf_t;

/* Added: a client token. A hello with `secret` authenticates as the principal `name`. */
typedef struct txs_token_conf {
    char name[TXS_CONF_NAME_MAX + 1];
    char *secret; /* non-empty; never logged */
} txs_token_conf_t;

typedef struct txs_conf {
    char *source;      /* the file read, or NULL when none */
    char *listen_host; /* listen = HOST:PORT, default 127.0.0.1:7432 */
    int listen_port;
    char *unix_socket;           /* NULL = none */
    char *auth_token;            /* the token of principal "default"; NULL = none */
    int max_clients;             /* default 1000 */
    int max_sessions_per_client; /* default 1000 */
    int max_pipeline;            /* default 128 */
    size_t max_request_bytes;    /* default 1 MiB */
    size_t max_result_bytes;     /* default 64 MiB */
    txs_log_level_t log_level;   /* default info */
    txs_log_format_t log_format; /* default text */
    char *admin_host;            /* admin_listen = HOST:PORT, default 127.0.0.1:7433 */
    int admin_port;
    uint64_t drain_timeout_ms;        /* SIGTERM's drain, default 30s; 0 = at once */
    int outcome_journal_size;         /* ended transactions remembered per principal; 0 = off */
    uint64_t outcome_journal_ttl_ms;  /* how long each is remembered, default 10 min */
    uint64_t client_idle_timeout_ms;  /* close a client with nothing pending and no input for
                                         this long; default off (0) */
    uint64_t client_login_timeout_ms; /* close a client that has not finished hello (with
                                         tokens) or sent a first line (without) by then;
                                         default 1m */
    txs_db_conf_t *dbs;               /* in the order they appear; the first is the default db */
    int ndbs;
    /* Added: every token, auth_token included: it comes first, named "default", then the
     * [tokens] of the file in order, then those the environment creates. Distinct names
     * and distinct secrets. None (ntokens 0): no authentication, one principal "default". */
    txs_token_conf_t *tokens;
    int ntokens;
} txs_conf_t;

/* Load `path` (NULL: no file) and then the environment `envp` (NULL-terminated
 * "KEY=value" strings, e.g. environ). The environment rule:
 *   [txscope] key      -> TXSCOPE_<KEY>            (TXSCOPE_LISTEN, TXSCOPE_MAX_PIPELINE)
 *   [db.NAME] key      -> TXSCOPE_DB_<NAME>_<KEY>  (TXSCOPE_DB_MAIN_DSN)
 *   [tokens] NAME      -> TXSCOPE_TOKEN_<NAME>     (TXSCOPE_TOKEN_WEB)
 * with NAME and KEY upper-cased; a TXSCOPE_DB_<NAME>_* variable for a db the file
 * does not have creates it, and so does TXSCOPE_TOKEN_<NAME> for a token. Unknown
 * TXSCOPE_* variables are errors.
 * Every [db.NAME] key but dsn may also be written under [txscope] (or as TXSCOPE_<KEY>),
 * as the default for every db. A db's value is, first found: its own (its section, or
 * TXSCOPE_DB_<NAME>_<KEY>), the [txscope] one (TXSCOPE_<KEY>, else the file's line),
 * the built-in default; wherever the sections are in the file.
 * On error returns TXS_ECONFIG with errbuf naming the file and line (or the
 * variable), the key, and the allowed values; *out is then NULL. */
int txs_conf_load(const char *path, char *const *envp, txs_conf_t **out, char *errbuf,
                  size_t errlen);
void txs_conf_free(txs_conf_t *conf);

/* The db called `name`, or NULL. */
const txs_db_conf_t *txs_conf_find_db(const txs_conf_t *conf, const char *name);

/* "500ms", "30s", "5m", "1h", "2d", or a bare number of seconds ("1.5" = 1500 ms). */
int txs_conf_parse_duration_ms(const char *s, uint64_t *out_ms);
/* "1048576", "64kB", "1MB", "1MiB", "2GB" (kB/MB/GB are 1024-based as in PostgreSQL). */
int txs_conf_parse_size(const char *s, size_t *out);

/* Added: print a duration or size the way the parsers read it back ("30s", "64MB"),
 * with the largest unit that divides exactly; for log lines and error messages. */
void txs_conf_format_duration(uint64_t ms, char *buf, size_t len);
void txs_conf_format_size(uint64_t bytes, char *buf, size_t len);

/* Added: the rows of the key table, for reload decisions (a SIGHUP may change only
 * reloadable keys), help output, and the test that keeps the docs in step. */
typedef struct txs_conf_key_info {
    const char *section;       /* "txscope" or "db.NAME"; a db.NAME key with a
                                  default_value may also be written under [txscope], as the
                                  default for every db (dsn, without one, may not) */
    const char *name;          /* the key as written in the file, e.g. "pool_size" */
    const char *default_value; /* as it would be written in the file; NULL = none */
    bool reloadable;           /* false: a change needs a restart */
    const char *doc;           /* one line */
} txs_conf_key_info_t;

/* The i-th key (0-based), or NULL past the last. */
const txs_conf_key_info_t *txs_conf_key_info(size_t i);

#endif
