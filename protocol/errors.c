/* errors.c - messages for the TXS_E* codes. */
#include "protocol/errors.h"

const char *txs_strerror(int err)
{
    switch (err) {
    case TXS_OK:
        return "success";
#define TXS__ERRNO_CASE(name, msg)                                                                 \
    case TXS_E##name:                                                                              \
        return msg;
        TXS_ERRNO_MAP(TXS__ERRNO_CASE)
#undef TXS__ERRNO_CASE
    default:
        return "unknown error";
    }
}
