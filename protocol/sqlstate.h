/* sqlstate.h - the SQLSTATE codes of the daemon's own errors (protocol-v1 section 4). */
#ifndef TXS_PROTOCOL_SQLSTATE_H
#define TXS_PROTOCOL_SQLSTATE_H

#define TXS_SQLSTATE_PROTOCOL "08P01"        /* malformed request */
#define TXS_SQLSTATE_AUTH "28000"            /* not authenticated */
#define TXS_SQLSTATE_UNKNOWN_DB "3D000"      /* unknown db */
#define TXS_SQLSTATE_ACTIVE_TX "25001"       /* begin inside a transaction; other db */
#define TXS_SQLSTATE_FAILED_TX "25P02"       /* failed or inactive: roll back first */
#define TXS_SQLSTATE_NO_SAVEPOINT "3B001"    /* unknown savepoint */
#define TXS_SQLSTATE_NOT_SUPPORTED "0A000"   /* transaction control as SQL; unsupported */
#define TXS_SQLSTATE_TOO_MANY "53300"        /* pool_timeout; session or pipeline limit */
#define TXS_SQLSTATE_TOO_BIG "54000"         /* request or result over its limit */
#define TXS_SQLSTATE_CANCELED "57014"        /* query_timeout */
#define TXS_SQLSTATE_IDLE_TIMEOUT "25P03"    /* rolled back by a transaction timeout */
#define TXS_SQLSTATE_CONNECT_FAILED "08001"  /* could not connect to the backend */
#define TXS_SQLSTATE_CONNECTION_LOST "08006" /* backend lost mid-transaction */
#define TXS_SQLSTATE_COMMIT_UNKNOWN "08007"  /* backend lost during commit */
#define TXS_SQLSTATE_SHUTDOWN "57P01"        /* the daemon is shutting down */

#endif
