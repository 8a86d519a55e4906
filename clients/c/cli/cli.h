/* cli.h - what the files of the txscope command share. */
#ifndef TXS_CLI_H
#define TXS_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "clients/c/cli/input.h"
#include "clients/c/libtxscope/txscope.h"

/* Exit statuses, also what running a command returns. */
enum {
    TXS_CLI_EXIT_OK = 0,
    TXS_CLI_EXIT_FAILED = 1, /* the daemon or the database refused a request */
    TXS_CLI_EXIT_LOST = 2,   /* usage error, or the connection could not be made or broke */
};

/* A context this process has used. */
typedef struct txs_cli_ctx {
    char *name;
    char state[16]; /* tx.state of its last reply: idle, open, failed or inactive */
    int depth;
    bool live; /* the daemon holds a session for it: a request went out since the last end */
} txs_cli_ctx_t;

typedef struct txs_cli {
    txscope_conn_t *conn;
    const char *db; /* NULL: the daemon's first database */
    bool json;      /* print replies as the JSON lines received */
    txs_cli_ctx_t *ctxs;
    size_t nctx, cur; /* ctxs[cur] is the current context */
    bool failed;      /* a request failed */
    bool lost;        /* the connection is gone */
} txs_cli_t;

/* Makes `name` the current context (adding it to the list if new). */
void txs_cli_use_ctx(txs_cli_t *cli, const char *name);

/* Runs one command in the current context (sql is the text for TXS_CLI_SQL) and prints
 * its reply. Returns a TXS_CLI_EXIT_* status; TXS_CLI_QUIT is the caller's to handle. */
int txs_cli_execute(txs_cli_t *cli, const txs_cli_cmd_t *cmd, const char *sql);

/* Runs the statements and commands in text (split as typed input is) until one fails. */
int txs_cli_execute_text(txs_cli_t *cli, const char *text, bool *quit);

/* Commits every context with a transaction open, level by level. Returns a status. */
int txs_cli_commit_all(txs_cli_t *cli);

/* Rolls back every context with a transaction open or failed. */
void txs_cli_rollback_all(txs_cli_t *cli);

/* Ends every live context; with warn, says on stderr which ones lost a transaction. */
void txs_cli_end_all(txs_cli_t *cli, bool warn);

/* The prompt for the current context: "txscope:CTX> ", "*> " with a transaction open,
 * "!> " when it failed, "-> " inside an unfinished statement. */
void txs_cli_prompt(const txs_cli_t *cli, bool continuation, char *buf, size_t len);

/* Prints the meta command help. */
void txs_cli_help(void);

/* Frees the contexts (the connection is the caller's). */
void txs_cli_free(txs_cli_t *cli);

/* Reads statements from stdin (with libedit and history when interactive) and runs
 * them until end of input or \q; then ends the contexts. Returns the exit status. */
int txs_cli_repl(txs_cli_t *cli, bool interactive);

#endif
