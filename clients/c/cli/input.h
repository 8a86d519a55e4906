/* input.h - the CLI's input, pure: statement splitting and command parsing. */
#ifndef TXS_CLI_INPUT_H
#define TXS_CLI_INPUT_H

#include <stdbool.h>
#include <stddef.h>

/* Where the splitter is inside a statement; carried from one line to the next. */
typedef enum txs_cli_lex {
    TXS_CLI_LEX_NORMAL,
    TXS_CLI_LEX_SQUOTE,  /* inside '...' */
    TXS_CLI_LEX_ESQUOTE, /* inside E'...', where backslash escapes */
    TXS_CLI_LEX_DQUOTE,  /* inside "..." */
    TXS_CLI_LEX_DOLLAR,  /* inside $tag$...$tag$ */
    TXS_CLI_LEX_COMMENT, /* inside a (nestable) block comment */
} txs_cli_lex_t;

/* Accumulates input lines and cuts them into statements at each ';' outside quotes and
 * comments. The ';' is dropped, "--" comments are dropped, the rest is kept. */
typedef struct txs_cli_input {
    char *buf; /* the statement being accumulated */
    size_t len, cap;
    char **done; /* complete statements, oldest first, from done[head] */
    size_t head, ndone, done_cap;
    txs_cli_lex_t lex;
    int comment_depth;
    char dollar[66]; /* the open $tag$ */
    bool content;    /* buf holds more than blanks and comments */
} txs_cli_input_t;

void txs_cli_input_init(txs_cli_input_t *in);
void txs_cli_input_free(txs_cli_input_t *in);
/* Adds one line of input (without its line ending). */
void txs_cli_input_feed(txs_cli_input_t *in, const char *line);
/* The next complete statement (trimmed, without its ';'; the caller frees it), or NULL. */
char *txs_cli_input_next(txs_cli_input_t *in);
/* True while a statement has begun but not ended (the prompt shows "-> "). */
bool txs_cli_input_pending(const txs_cli_input_t *in);
/* Takes the unfinished statement as it is (at end of input), or NULL if there is none. */
char *txs_cli_input_flush(txs_cli_input_t *in);
/* Forgets the unfinished statement. */
void txs_cli_input_reset(txs_cli_input_t *in);

/* Options of a begin. */
typedef struct txs_cli_begin {
    const char *isolation; /* NULL, "read committed", "repeatable read", "serializable",
                              "read uncommitted" */
    int read_only;         /* -1 not given, 0 read write, 1 read only */
    int deferrable;        /* -1 not given, 0 not deferrable, 1 deferrable */
    bool nested, join;
} txs_cli_begin_t;

typedef enum txs_cli_kind {
    TXS_CLI_SQL, /* not a command: send the text as a query */
    TXS_CLI_BEGIN,
    TXS_CLI_COMMIT,
    TXS_CLI_ROLLBACK,
    TXS_CLI_SAVEPOINT,   /* arg: the name */
    TXS_CLI_RELEASE,     /* arg: the name */
    TXS_CLI_ROLLBACK_TO, /* arg: the name */
    TXS_CLI_STATUS,
    TXS_CLI_END,
    TXS_CLI_CTX, /* arg: the new context, or "" to show the current one */
    TXS_CLI_JSON,
    TXS_CLI_QUIT,
    TXS_CLI_HELP,
    TXS_CLI_RESET, /* \r: forget the unfinished statement */
    TXS_CLI_BAD,   /* could not be parsed: error says why */
} txs_cli_kind_t;

typedef struct txs_cli_cmd {
    txs_cli_kind_t kind;
    txs_cli_begin_t begin;
    char arg[129];
    char error[160];
} txs_cli_cmd_t;

/* True when line is a meta command (its first non-blank character is a backslash). */
bool txs_cli_is_meta(const char *line);
/* Parses a meta command line: \begin [options], \commit, \rollback, \status, \end,
 * \ctx NAME, \json, \r, \q, \?. */
void txs_cli_parse_meta(const char *line, txs_cli_cmd_t *out);
/* Classifies a complete statement: transaction control (BEGIN / START TRANSACTION
 * [options], COMMIT, ROLLBACK / ABORT, SAVEPOINT x, RELEASE [SAVEPOINT] x, ROLLBACK TO
 * [SAVEPOINT] x; any case, an optional trailing ';') becomes the matching command, the
 * rest is TXS_CLI_SQL. */
void txs_cli_parse_statement(const char *stmt, txs_cli_cmd_t *out);
/* Parses begin options ("isolation level serializable read only", "repeatable read",
 * "deferrable", "nested", "join"; commas allowed). Returns false (error filled) on an
 * unknown word. */
bool txs_cli_parse_begin(const char *words, txs_cli_begin_t *out, char *error, size_t errlen);

#endif
