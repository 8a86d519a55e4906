/* session.c - the txscope command's requests: runs commands in contexts, prints replies. */
#include <stdio.h>
#include <string.h>

#include "clients/c/cli/cli.h"
#include "clients/c/cli/format.h"
#include "clients/c/cli/xalloc.h"

void txs_cli_use_ctx(txs_cli_t *cli, const char *name)
{
    for (size_t i = 0; i < cli->nctx; i++) {
        if (strcmp(cli->ctxs[i].name, name) == 0) {
            cli->cur = i;
            return;
        }
    }
    cli->ctxs = cli_xrealloc(cli->ctxs, (cli->nctx + 1) * sizeof *cli->ctxs);
    cli->ctxs[cli->nctx] = (txs_cli_ctx_t){.name = cli_xstrdup(name), .state = "idle"};
    cli->cur = cli->nctx++;
}

void txs_cli_free(txs_cli_t *cli)
{
    for (size_t i = 0; i < cli->nctx; i++)
        free(cli->ctxs[i].name);
    free(cli->ctxs);
    cli->ctxs = NULL;
    cli->nctx = 0;
}

static const char *op_name(txs_cli_kind_t kind)
{
    switch (kind) {
    case TXS_CLI_SQL:
        return "query";
    case TXS_CLI_BEGIN:
        return "begin";
    case TXS_CLI_COMMIT:
        return "commit";
    case TXS_CLI_ROLLBACK:
        return "rollback";
    case TXS_CLI_SAVEPOINT:
        return "savepoint";
    case TXS_CLI_RELEASE:
        return "release";
    case TXS_CLI_ROLLBACK_TO:
        return "rollback_to";
    case TXS_CLI_STATUS:
        return "status";
    case TXS_CLI_END:
        return "end";
    default:
        return NULL;
    }
}

/* What psql would print for a successful transaction command. */
static const char *op_tag(txs_cli_kind_t kind)
{
    switch (kind) {
    case TXS_CLI_BEGIN:
        return "BEGIN";
    case TXS_CLI_COMMIT:
        return "COMMIT";
    case TXS_CLI_ROLLBACK:
    case TXS_CLI_ROLLBACK_TO:
        return "ROLLBACK";
    case TXS_CLI_SAVEPOINT:
        return "SAVEPOINT";
    case TXS_CLI_RELEASE:
        return "RELEASE";
    case TXS_CLI_END:
        return "END";
    default:
        return NULL;
    }
}

static cJSON *build_request(const txs_cli_t *cli, const txs_cli_ctx_t *ctx,
                            const txs_cli_cmd_t *cmd, const char *sql)
{
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "op", op_name(cmd->kind));
    cJSON_AddStringToObject(req, "ctx", ctx->name);
    if (cli->db != NULL)
        cJSON_AddStringToObject(req, "db", cli->db);
    switch (cmd->kind) {
    case TXS_CLI_SQL:
        cJSON_AddStringToObject(req, "sql", sql);
        break;
    case TXS_CLI_BEGIN:
        if (cmd->begin.isolation != NULL)
            cJSON_AddStringToObject(req, "isolation", cmd->begin.isolation);
        if (cmd->begin.read_only >= 0)
            cJSON_AddBoolToObject(req, "read_only", cmd->begin.read_only);
        if (cmd->begin.deferrable >= 0)
            cJSON_AddBoolToObject(req, "deferrable", cmd->begin.deferrable);
        if (cmd->begin.nested)
            cJSON_AddTrueToObject(req, "nested");
        if (cmd->begin.join)
            cJSON_AddTrueToObject(req, "join");
        break;
    case TXS_CLI_SAVEPOINT:
    case TXS_CLI_RELEASE:
    case TXS_CLI_ROLLBACK_TO:
        cJSON_AddStringToObject(req, "name", cmd->arg);
        break;
    default:
        break;
    }
    return req;
}

/* How much of a reply run() prints (with --json, the line itself, always). */
typedef enum show {
    SHOW_ALL,    /* results and errors */
    SHOW_ERRORS, /* errors only: the final commits of -e */
    SHOW_NONE,   /* nothing: clean-up (rollback after a failure, end), whose failure changes
                    nothing, as the daemon rolls back when the client goes anyway */
} show_t;

/* Sends one request for context ctxs[which] and prints its reply as `show` says. */
static int run(txs_cli_t *cli, size_t which, const txs_cli_cmd_t *cmd, const char *sql, show_t show)
{
    if (cli->lost)
        return TXS_CLI_EXIT_LOST;
    cJSON *req = build_request(cli, &cli->ctxs[which], cmd, sql);
    cJSON *reply = txscope_call(cli->conn, req, -1);
    cJSON_Delete(req);
    /* The list may not move while a request is out: which stays valid. */
    txs_cli_ctx_t *ctx = &cli->ctxs[which];
    if (reply == NULL) {
        fflush(stdout);
        fprintf(stderr, "txscope: %s\n", txscope_errmsg(cli->conn));
        cli->lost = true;
        return TXS_CLI_EXIT_LOST;
    }
    const char *state = txscope_reply_tx_state(reply);
    if (state != NULL) {
        snprintf(ctx->state, sizeof ctx->state, "%s", state);
        ctx->depth = txscope_reply_tx_depth(reply);
    }
    bool ok = txscope_reply_ok(reply);
    ctx->live = !(ok && cmd->kind == TXS_CLI_END);
    if (!ctx->live) {
        snprintf(ctx->state, sizeof ctx->state, "idle");
        ctx->depth = 0;
    }
    if (cli->json) {
        puts(txscope_last_line(cli->conn));
    } else if (!ok && show != SHOW_NONE) {
        fflush(stdout);
        txs_cli_print_error(stderr, reply);
    } else if (ok && show == SHOW_ALL && cmd->kind == TXS_CLI_SQL) {
        txs_cli_print_result(stdout, reply);
    } else if (ok && show == SHOW_ALL && cmd->kind == TXS_CLI_STATUS) {
        printf("%s: %s (depth %d)\n", ctx->name, ctx->state, ctx->depth);
    } else if (ok && show == SHOW_ALL) {
        puts(op_tag(cmd->kind));
    }
    cJSON_Delete(reply);
    if (!ok && show != SHOW_NONE)
        cli->failed = true;
    return ok ? TXS_CLI_EXIT_OK : TXS_CLI_EXIT_FAILED;
}

int txs_cli_execute(txs_cli_t *cli, const txs_cli_cmd_t *cmd, const char *sql)
{
    switch (cmd->kind) {
    case TXS_CLI_CTX:
        if (cmd->arg[0] == '\0')
            printf("%s\n", cli->ctxs[cli->cur].name);
        else
            txs_cli_use_ctx(cli, cmd->arg);
        return TXS_CLI_EXIT_OK;
    case TXS_CLI_JSON:
        cli->json = !cli->json;
        printf("JSON output is %s.\n", cli->json ? "on" : "off");
        return TXS_CLI_EXIT_OK;
    case TXS_CLI_HELP:
        txs_cli_help();
        return TXS_CLI_EXIT_OK;
    case TXS_CLI_QUIT:
    case TXS_CLI_RESET:
        return TXS_CLI_EXIT_OK;
    case TXS_CLI_BAD:
        fflush(stdout);
        fprintf(stderr, "txscope: %s\n", cmd->error);
        cli->failed = true;
        return TXS_CLI_EXIT_FAILED;
    default:
        return run(cli, cli->cur, cmd, sql, SHOW_ALL);
    }
}

int txs_cli_execute_text(txs_cli_t *cli, const char *text, bool *quit)
{
    txs_cli_cmd_t cmd;
    *quit = false;
    if (txs_cli_is_meta(text)) {
        txs_cli_parse_meta(text, &cmd);
        *quit = cmd.kind == TXS_CLI_QUIT;
        return txs_cli_execute(cli, &cmd, NULL);
    }
    txs_cli_input_t in;
    txs_cli_input_init(&in);
    /* Fed line by line, as if typed; a last statement needs no ';'. */
    const char *s = text;
    while (*s != '\0') {
        size_t n = strcspn(s, "\n");
        char *line = cli_xstrndup(s, n);
        txs_cli_input_feed(&in, line);
        free(line);
        s += n + (s[n] == '\n');
    }
    int rc = TXS_CLI_EXIT_OK;
    char *stmt;
    bool flushed = false;
    while (rc == TXS_CLI_EXIT_OK) {
        stmt = txs_cli_input_next(&in);
        if (stmt == NULL && !flushed) {
            stmt = txs_cli_input_flush(&in);
            flushed = true;
        }
        if (stmt == NULL)
            break;
        txs_cli_parse_statement(stmt, &cmd);
        rc = txs_cli_execute(cli, &cmd, stmt);
        free(stmt);
    }
    txs_cli_input_free(&in);
    return rc;
}

static bool tx_open(const txs_cli_ctx_t *ctx)
{
    return ctx->live && strcmp(ctx->state, "idle") != 0;
}

int txs_cli_commit_all(txs_cli_t *cli)
{
    txs_cli_cmd_t commit = {.kind = TXS_CLI_COMMIT};
    for (size_t i = 0; i < cli->nctx; i++) {
        /* One commit per level; the bound only guards against a daemon gone wrong. */
        for (int n = 0; n < 1000 && tx_open(&cli->ctxs[i]); n++) {
            int rc = run(cli, i, &commit, NULL, SHOW_ERRORS);
            if (rc != TXS_CLI_EXIT_OK)
                return rc;
        }
    }
    return TXS_CLI_EXIT_OK;
}

void txs_cli_rollback_all(txs_cli_t *cli)
{
    txs_cli_cmd_t rollback = {.kind = TXS_CLI_ROLLBACK};
    for (size_t i = 0; i < cli->nctx; i++)
        if (tx_open(&cli->ctxs[i]))
            run(cli, i, &rollback, NULL, SHOW_NONE);
}

void txs_cli_end_all(txs_cli_t *cli, bool warn)
{
    txs_cli_cmd_t end = {.kind = TXS_CLI_END};
    for (size_t i = 0; i < cli->nctx && !cli->lost; i++) {
        txs_cli_ctx_t *ctx = &cli->ctxs[i];
        if (!ctx->live)
            continue;
        if (warn && tx_open(ctx)) {
            fflush(stdout);
            fprintf(stderr, "WARNING:  context %s: its %s transaction is rolled back\n", ctx->name,
                    ctx->state);
        }
        run(cli, i, &end, NULL, SHOW_NONE);
    }
}

void txs_cli_prompt(const txs_cli_t *cli, bool continuation, char *buf, size_t len)
{
    if (continuation) {
        snprintf(buf, len, "-> ");
        return;
    }
    const txs_cli_ctx_t *ctx = &cli->ctxs[cli->cur];
    const char *mark = "";
    if (strcmp(ctx->state, "open") == 0)
        mark = "*";
    else if (strcmp(ctx->state, "failed") == 0 || strcmp(ctx->state, "inactive") == 0)
        mark = "!";
    snprintf(buf, len, "txscope:%s%s> ", ctx->name, mark);
}

void txs_cli_help(void)
{
    fputs("Statements end with ';' at the end of a line; they run in the current context,\n"
          "which begins a transaction by itself (commit; to keep the work).\n"
          "  begin [options];  commit;  rollback;     transaction control, sent as ops\n"
          "  savepoint NAME;  release NAME;  rollback to NAME;\n"
          "  \\begin [isolation level LEVEL] [read only|read write] [[not] deferrable]\n"
          "         [nested|join]                      begin a transaction (or a level)\n"
          "  \\commit  \\rollback                        end the innermost level\n"
          "  \\status                                   show the transaction state\n"
          "  \\end                                      end the session (rolls back)\n"
          "  \\ctx [NAME]                               switch to context NAME (or show it)\n"
          "  \\json                                     toggle raw JSON output\n"
          "  \\r                                        forget the unfinished statement\n"
          "  \\q                                        quit (ends every session)\n"
          "  \\?                                        this help\n",
          stdout);
}
