/* errors.h - the daemon's internal error codes (TXS_E*) and txs_strerror(). */
#ifndef TXS_PROTOCOL_ERRORS_H
#define TXS_PROTOCOL_ERRORS_H

/* One list generates the enum and the messages: add a row, get both. */
#define TXS_ERRNO_MAP(X)                                                                           \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(AGAIN, "need more data")                                                                     \
    X(TOOBIG, "over the size limit")                                                               \
    X(PROTO, "malformed request")                                                                  \
    X(IO, "input/output error")                                                                    \
    X(CONNECT, "could not connect")                                                                \
    X(LOST, "connection lost")                                                                     \
    X(BUSY, "busy")                                                                                \
    X(STATE, "not allowed in this state")                                                          \
    X(CONFIG, "bad configuration")

enum {
    TXS_OK = 0,
    TXS__ERRNO_BASE = -1000,
#define TXS__ERRNO_ENUM(name, msg) TXS_E##name,
    TXS_ERRNO_MAP(TXS__ERRNO_ENUM)
#undef TXS__ERRNO_ENUM
};

#define TXS_WUR __attribute__((warn_unused_result))

/* The message for a TXS_E* code (or "unknown error"). */
const char *txs_strerror(int err);

#endif
