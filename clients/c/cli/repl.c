/* repl.c - the txscope command's input loop: libedit at a terminal, plain lines otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>

#include "clients/c/cli/cli.h"

/* The history file, ~/.txscope_history, or NULL without a HOME. */
static char *history_path(void)
{
    const char *home = getenv("HOME");
    if (home == NULL || *home == '\0')
        return NULL;
    size_t n = strlen(home) + sizeof "/.txscope_history";
    char *path = malloc(n);
    if (path != NULL)
        snprintf(path, n, "%s/.txscope_history", home);
    return path;
}

/* The next line without its line ending (the caller frees it), or NULL at end of input. */
static char *next_line(const txs_cli_t *cli, const txs_cli_input_t *in, bool interactive)
{
    if (interactive) {
        char prompt[160];
        txs_cli_prompt(cli, txs_cli_input_pending(in), prompt, sizeof prompt);
        char *line = readline(prompt);
        if (line != NULL && line[strspn(line, " \t")] != '\0')
            add_history(line);
        return line;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

/* Runs what one line completes. Returns false to stop (\q, or the connection is lost). */
static bool handle_line(txs_cli_t *cli, txs_cli_input_t *in, const char *line)
{
    txs_cli_cmd_t cmd;
    /* A meta command works between statements and inside an unfinished one, but not
     * inside a quote, where a backslash is data. */
    if (in->lex == TXS_CLI_LEX_NORMAL && txs_cli_is_meta(line)) {
        txs_cli_parse_meta(line, &cmd);
        if (cmd.kind == TXS_CLI_QUIT)
            return false;
        if (cmd.kind == TXS_CLI_RESET)
            txs_cli_input_reset(in);
        txs_cli_execute(cli, &cmd, NULL);
        return !cli->lost;
    }
    /* "begin", "commit", "rollback" typed alone need no ';'. */
    if (!txs_cli_input_pending(in)) {
        txs_cli_parse_statement(line, &cmd);
        if (cmd.kind != TXS_CLI_SQL) {
            txs_cli_execute(cli, &cmd, NULL);
            return !cli->lost;
        }
    }
    txs_cli_input_feed(in, line);
    char *stmt;
    while (!cli->lost && (stmt = txs_cli_input_next(in)) != NULL) {
        txs_cli_parse_statement(stmt, &cmd);
        txs_cli_execute(cli, &cmd, stmt);
        free(stmt);
    }
    return !cli->lost;
}

int txs_cli_repl(txs_cli_t *cli, bool interactive)
{
    char *hist = NULL;
    if (interactive) {
        using_history();
        stifle_history(1000);
        hist = history_path();
        if (hist != NULL)
            read_history(hist);
        printf("txscope %s; \\? for help, \\q to quit.\n", TXSCOPE_VERSION);
    }
    txs_cli_input_t in;
    txs_cli_input_init(&in);
    bool go_on = true;
    char *line;
    while (go_on && (line = next_line(cli, &in, interactive)) != NULL) {
        go_on = handle_line(cli, &in, line);
        free(line);
    }
    if (go_on && !interactive) {
        /* A script's last statement may lack its ';'. */
        char *stmt = txs_cli_input_flush(&in);
        if (stmt != NULL) {
            txs_cli_cmd_t cmd;
            txs_cli_parse_statement(stmt, &cmd);
            txs_cli_execute(cli, &cmd, stmt);
            free(stmt);
        }
    }
    if (interactive && go_on)
        putchar('\n'); /* after the ^D */
    txs_cli_input_free(&in);
    txs_cli_end_all(cli, true);
    if (hist != NULL) {
        write_history(hist);
        free(hist);
    }
    if (cli->lost)
        return TXS_CLI_EXIT_LOST;
    /* A script reports its failures; at a terminal the user has seen them. */
    return !interactive && cli->failed ? TXS_CLI_EXIT_FAILED : TXS_CLI_EXIT_OK;
}
