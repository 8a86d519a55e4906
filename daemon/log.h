/* log.h - one line per event to stderr, as text or JSON (log_format); the level is
 * checked before formatting. A line about a connection names it: client id, peer, db,
 * ctx, backend id (txs_log_who_t). Every message is masked (protocol/mask.h: DSN
 * passwords, key=secret words) before it is written. */
#ifndef TXS_DAEMON_LOG_H
#define TXS_DAEMON_LOG_H

#include <stdint.h>

typedef enum txs_log_level {
    TXS_LOG_ERROR = 0,
    TXS_LOG_WARN,
    TXS_LOG_INFO,
    TXS_LOG_DEBUG,
} txs_log_level_t;

/* How lines are written (log_format). */
typedef enum txs_log_format {
    TXS_LOG_TEXT = 0, /* 2026-11-24T10:00:00.000Z INFO client=12 peer=... db=main: message */
    TXS_LOG_JSON,     /* {"ts":...,"level":"info","client":12,...,"msg":"message"} */
} txs_log_format_t;

/* Who a line is about; every field may be absent (0 or NULL). */
typedef struct txs_log_who {
    uint64_t client;  /* client connection id */
    const char *peer; /* the client's address ("127.0.0.1:40312", "unix") */
    const char *db;   /* [db.NAME] */
    const char *ctx;  /* the session's context id */
    uint64_t backend; /* backend connection id (per db) */
} txs_log_who_t;

extern txs_log_level_t txs_log_max_level;

void txs_log_set_level(txs_log_level_t level);
void txs_log_set_format(txs_log_format_t format);

/* A line about the daemon as a whole. */
void txs_log_write(txs_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A line about a connection (who may be NULL: then as txs_log_write). */
void txs_log_write_who(txs_log_level_t level, const txs_log_who_t *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void txs_log_write_for(txs_log_level_t level, txs_log_who_t who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define txs_log(level, ...)                                                                        \
    do {                                                                                           \
        if ((level) <= txs_log_max_level)                                                          \
            txs_log_write((level), __VA_ARGS__);                                                   \
    } while (0)
#define txs_log_error(...) txs_log(TXS_LOG_ERROR, __VA_ARGS__)
#define txs_log_warn(...) txs_log(TXS_LOG_WARN, __VA_ARGS__)
#define txs_log_info(...) txs_log(TXS_LOG_INFO, __VA_ARGS__)
#define txs_log_debug(...) txs_log(TXS_LOG_DEBUG, __VA_ARGS__)

/* The same for a connection: txs_log_at(TXS_LOG_INFO, &who, "closed: %s", why). who is
 * part of the variadic arguments so that a compound literal's commas may appear in it:
 * txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.db = name, .backend = id}, "connected"). */
#define txs_log_at(level, ...)                                                                     \
    do {                                                                                           \
        if ((level) <= txs_log_max_level)                                                          \
            txs_log_write_who((level), __VA_ARGS__);                                               \
    } while (0)
/* The same with who as a value, built only when the line is written:
 * txs_log_for(TXS_LOG_DEBUG, txs_session_who(s), "bound"). */
#define txs_log_for(level, ...)                                                                    \
    do {                                                                                           \
        if ((level) <= txs_log_max_level)                                                          \
            txs_log_write_for((level), __VA_ARGS__);                                               \
    } while (0)

#endif
