/* version.h - the daemon's version: txscoped -V, hello's reply, /metrics and /stats. */
#ifndef TXS_DAEMON_VERSION_H
#define TXS_DAEMON_VERSION_H

#define TXS_VERSION "0.1.0"

#endif
