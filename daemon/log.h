/* log.h - one line per event to stderr, level checked before formatting. */
#ifndef TXS_DAEMON_LOG_H
#define TXS_DAEMON_LOG_H

typedef enum txs_log_level {
    TXS_LOG_ERROR = 0,
    TXS_LOG_WARN,
    TXS_LOG_INFO,
    TXS_LOG_DEBUG,
} txs_log_level_t;

extern txs_log_level_t txs_log_max_level;

void txs_log_set_level(txs_log_level_t level);
void txs_log_write(txs_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define txs_log(level, ...)                                                                        \
    do {                                                                                           \
        if ((level) <= txs_log_max_level)                                                          \
            txs_log_write((level), __VA_ARGS__);                                                   \
    } while (0)
#define txs_log_error(...) txs_log(TXS_LOG_ERROR, __VA_ARGS__)
#define txs_log_warn(...) txs_log(TXS_LOG_WARN, __VA_ARGS__)
#define txs_log_info(...) txs_log(TXS_LOG_INFO, __VA_ARGS__)
#define txs_log_debug(...) txs_log(TXS_LOG_DEBUG, __VA_ARGS__)

#endif
