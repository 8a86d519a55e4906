/* input.c - the CLI's input, pure: cuts lines into statements, parses commands. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "clients/c/cli/input.h"
#include "clients/c/cli/xalloc.h"

/* ---- statement splitting ---- */

void txs_cli_input_init(txs_cli_input_t *in)
{
    memset(in, 0, sizeof *in);
    in->lex = TXS_CLI_LEX_NORMAL;
}

void txs_cli_input_free(txs_cli_input_t *in)
{
    for (size_t i = in->head; i < in->head + in->ndone; i++)
        free(in->done[i]);
    free(in->done);
    free(in->buf);
    txs_cli_input_init(in);
}

static void append(txs_cli_input_t *in, const char *s, size_t n)
{
    if (in->len + n + 1 > in->cap) {
        in->cap = (in->len + n + 1) * 2;
        in->buf = cli_xrealloc(in->buf, in->cap);
    }
    memcpy(in->buf + in->len, s, n);
    in->len += n;
    in->buf[in->len] = '\0';
}

/* The accumulated text, trimmed, as a new string; empties the buffer. */
static char *take(txs_cli_input_t *in)
{
    const char *s = in->buf != NULL ? in->buf : "";
    size_t n = in->len;
    while (n > 0 && isspace((unsigned char)*s))
        s++, n--;
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    char *stmt = cli_xstrndup(s, n);
    in->len = 0;
    if (in->buf != NULL)
        in->buf[0] = '\0';
    in->content = false;
    return stmt;
}

static void push_done(txs_cli_input_t *in, char *stmt)
{
    if (in->ndone == 0)
        in->head = 0;
    if (in->head + in->ndone == in->done_cap) {
        in->done_cap = in->done_cap == 0 ? 8 : in->done_cap * 2;
        in->done = cli_xrealloc(in->done, in->done_cap * sizeof *in->done);
    }
    in->done[in->head + in->ndone++] = stmt;
}

static bool is_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

/* Length of a dollar-quote tag ($$ or $name$) starting at s, or 0 if there is none. */
static size_t dollar_tag(const char *s)
{
    if (s[0] != '$')
        return 0;
    size_t i = 1;
    if (s[i] != '$') {
        if (!(isalpha((unsigned char)s[i]) || s[i] == '_' || (unsigned char)s[i] >= 0x80))
            return 0;
        while (is_ident_char(s[i]))
            i++;
        if (s[i] != '$')
            return 0;
    }
    return i + 1;
}

void txs_cli_input_feed(txs_cli_input_t *in, const char *line)
{
    size_t n = strlen(line);
    for (size_t i = 0; i < n; i++) {
        char c = line[i], next = line[i + 1];
        switch (in->lex) {
        case TXS_CLI_LEX_NORMAL:
            if (c == '-' && next == '-') {
                i = n; /* a line comment: dropped */
                continue;
            }
            if (c == ';') {
                if (in->content)
                    push_done(in, take(in));
                else
                    free(take(in)); /* an empty statement */
                continue;
            }
            if (c == '/' && next == '*') {
                in->lex = TXS_CLI_LEX_COMMENT;
                in->comment_depth = 1;
                append(in, line + i, 2);
                i++;
                continue;
            }
            if (c == '$' && (i == 0 || !is_ident_char(line[i - 1]))) {
                size_t t = dollar_tag(line + i);
                if (t > 0 && t < sizeof in->dollar) {
                    memcpy(in->dollar, line + i, t);
                    in->dollar[t] = '\0';
                    in->lex = TXS_CLI_LEX_DOLLAR;
                    in->content = true;
                    append(in, line + i, t);
                    i += t - 1;
                    continue;
                }
            }
            if (c == '\'') {
                /* E'...' (any case), not the end of a longer word like "some'". */
                bool e = i > 0 && (line[i - 1] == 'E' || line[i - 1] == 'e') &&
                         (i == 1 || !is_ident_char(line[i - 2]));
                in->lex = e ? TXS_CLI_LEX_ESQUOTE : TXS_CLI_LEX_SQUOTE;
            } else if (c == '"') {
                in->lex = TXS_CLI_LEX_DQUOTE;
            }
            if (!isspace((unsigned char)c))
                in->content = true;
            append(in, &c, 1);
            break;
        case TXS_CLI_LEX_SQUOTE:
        case TXS_CLI_LEX_ESQUOTE:
            append(in, &c, 1);
            if (c == '\\' && in->lex == TXS_CLI_LEX_ESQUOTE && next != '\0') {
                append(in, &next, 1);
                i++;
            } else if (c == '\'' && next == '\'') {
                append(in, &next, 1);
                i++;
            } else if (c == '\'') {
                in->lex = TXS_CLI_LEX_NORMAL;
            }
            break;
        case TXS_CLI_LEX_DQUOTE:
            append(in, &c, 1);
            if (c == '"')
                in->lex = TXS_CLI_LEX_NORMAL; /* "" reopens at once: same result */
            break;
        case TXS_CLI_LEX_DOLLAR: {
            size_t t = strlen(in->dollar);
            if (strncmp(line + i, in->dollar, t) == 0) {
                append(in, line + i, t);
                i += t - 1;
                in->lex = TXS_CLI_LEX_NORMAL;
            } else {
                append(in, &c, 1);
            }
            break;
        }
        case TXS_CLI_LEX_COMMENT:
            if ((c == '*' && next == '/') || (c == '/' && next == '*')) {
                in->comment_depth += c == '/' ? 1 : -1;
                append(in, line + i, 2);
                i++;
                if (in->comment_depth == 0)
                    in->lex = TXS_CLI_LEX_NORMAL;
            } else {
                append(in, &c, 1);
            }
            break;
        }
    }
    if (in->content || in->lex != TXS_CLI_LEX_NORMAL)
        append(in, "\n", 1);
    else
        free(take(in)); /* only blanks or comments: nothing is pending */
}

char *txs_cli_input_next(txs_cli_input_t *in)
{
    if (in->ndone == 0)
        return NULL;
    in->ndone--;
    return in->done[in->head++];
}

bool txs_cli_input_pending(const txs_cli_input_t *in)
{
    return in->content || in->lex != TXS_CLI_LEX_NORMAL;
}

char *txs_cli_input_flush(txs_cli_input_t *in)
{
    bool had = in->content;
    in->lex = TXS_CLI_LEX_NORMAL;
    char *stmt = take(in);
    if (had)
        return stmt;
    free(stmt);
    return NULL;
}

void txs_cli_input_reset(txs_cli_input_t *in)
{
    free(txs_cli_input_flush(in));
}

/* ---- command parsing ---- */

#define MAX_WORDS 24

/* Words of a command: lowercased for keywords, and as written (a "quoted" word without
 * its quotes) for names. */
typedef struct words {
    size_t n;
    bool quoted[MAX_WORDS];
    char lower[MAX_WORDS][129];
    char raw[MAX_WORDS][129];
} words_t;

/* Splits s at blanks and commas. Returns false when there are too many or too long words,
 * or an unterminated quote. */
static bool split_words(const char *s, words_t *w)
{
    w->n = 0;
    for (;;) {
        while (*s != '\0' && (isspace((unsigned char)*s) || *s == ','))
            s++;
        if (*s == '\0')
            return true;
        if (w->n == MAX_WORDS)
            return false;
        size_t len = 0;
        char *raw = w->raw[w->n];
        w->quoted[w->n] = *s == '"';
        if (*s == '"') {
            for (s++;; s++) {
                if (*s == '\0')
                    return false;
                if (*s == '"' && s[1] != '"')
                    break;
                if (*s == '"')
                    s++; /* "" inside quotes is one " */
                if (len == sizeof w->raw[0] - 1)
                    return false;
                raw[len++] = *s;
            }
            s++;
        } else {
            for (; *s != '\0' && !isspace((unsigned char)*s) && *s != ','; s++) {
                if (len == sizeof w->raw[0] - 1)
                    return false;
                raw[len++] = *s;
            }
        }
        raw[len] = '\0';
        for (size_t i = 0; i <= len; i++)
            w->lower[w->n][i] = (char)tolower((unsigned char)raw[i]);
        w->n++;
    }
}

static bool word_is(const words_t *w, size_t i, const char *kw)
{
    return i < w->n && !w->quoted[i] && strcmp(w->lower[i], kw) == 0;
}

static bool parse_begin_words(const words_t *w, size_t i, txs_cli_begin_t *out, char *error,
                              size_t errlen)
{
    *out = (txs_cli_begin_t){.isolation = NULL, .read_only = -1, .deferrable = -1};
    while (i < w->n) {
        bool level = false;
        if (word_is(w, i, "isolation")) {
            if (!word_is(w, i + 1, "level")) {
                snprintf(error, errlen, "\"isolation\" must be followed by \"level\"");
                return false;
            }
            i += 2;
            level = true;
        }
        if (word_is(w, i, "serializable")) {
            out->isolation = "serializable";
            i += 1;
        } else if (word_is(w, i, "repeatable") && word_is(w, i + 1, "read")) {
            out->isolation = "repeatable read";
            i += 2;
        } else if (word_is(w, i, "read") && word_is(w, i + 1, "committed")) {
            out->isolation = "read committed";
            i += 2;
        } else if (word_is(w, i, "read") && word_is(w, i + 1, "uncommitted")) {
            out->isolation = "read uncommitted";
            i += 2;
        } else if (level) {
            snprintf(error, errlen,
                     "isolation level must be read committed, repeatable read, "
                     "serializable or read uncommitted");
            return false;
        } else if (word_is(w, i, "read") && word_is(w, i + 1, "only")) {
            out->read_only = 1;
            i += 2;
        } else if (word_is(w, i, "read") && word_is(w, i + 1, "write")) {
            out->read_only = 0;
            i += 2;
        } else if (word_is(w, i, "deferrable")) {
            out->deferrable = 1;
            i += 1;
        } else if (word_is(w, i, "not") && word_is(w, i + 1, "deferrable")) {
            out->deferrable = 0;
            i += 2;
        } else if (word_is(w, i, "nested")) {
            out->nested = true;
            i += 1;
        } else if (word_is(w, i, "join")) {
            out->join = true;
            i += 1;
        } else {
            snprintf(error, errlen, "unknown begin option \"%.60s\"", w->raw[i]);
            return false;
        }
    }
    if (out->nested && out->join) {
        snprintf(error, errlen, "begin cannot be both nested and join");
        return false;
    }
    return true;
}

bool txs_cli_parse_begin(const char *words, txs_cli_begin_t *out, char *error, size_t errlen)
{
    words_t *w = cli_xmalloc(sizeof *w);
    bool ok = split_words(words, w);
    if (!ok)
        snprintf(error, errlen, "cannot parse begin options");
    else
        ok = parse_begin_words(w, 0, out, error, errlen);
    free(w);
    return ok;
}

/* A savepoint name as PostgreSQL reads it: unquoted names fold to lower case. */
static void set_name(txs_cli_cmd_t *out, const words_t *w, size_t i)
{
    snprintf(out->arg, sizeof out->arg, "%s", w->quoted[i] ? w->raw[i] : w->lower[i]);
}

static void reset_cmd(txs_cli_cmd_t *out, txs_cli_kind_t kind)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->begin.read_only = -1;
    out->begin.deferrable = -1;
}

static bool skip_tx_word(const words_t *w, size_t *i)
{
    if (word_is(w, *i, "transaction") || word_is(w, *i, "work")) {
        (*i)++;
        return true;
    }
    return false;
}

static void classify(const words_t *w, txs_cli_cmd_t *out)
{
    size_t i = 1;
    if (word_is(w, 0, "begin") || (word_is(w, 0, "start") && word_is(w, 1, "transaction"))) {
        if (word_is(w, 0, "begin"))
            skip_tx_word(w, &i);
        else
            i = 2;
        out->kind = TXS_CLI_BEGIN;
        if (!parse_begin_words(w, i, &out->begin, out->error, sizeof out->error))
            out->kind = TXS_CLI_BAD;
    } else if (word_is(w, 0, "commit")) {
        skip_tx_word(w, &i);
        if (i == w->n)
            out->kind = TXS_CLI_COMMIT;
    } else if (word_is(w, 0, "rollback") || word_is(w, 0, "abort")) {
        skip_tx_word(w, &i);
        if (i == w->n) {
            out->kind = TXS_CLI_ROLLBACK;
        } else if (word_is(w, 0, "rollback") && word_is(w, i, "to")) {
            i++;
            if (word_is(w, i, "savepoint"))
                i++;
            if (i + 1 == w->n) {
                out->kind = TXS_CLI_ROLLBACK_TO;
                set_name(out, w, i);
            }
        }
    } else if (word_is(w, 0, "savepoint") && w->n == 2) {
        out->kind = TXS_CLI_SAVEPOINT;
        set_name(out, w, 1);
    } else if (word_is(w, 0, "release")) {
        if (word_is(w, i, "savepoint") && w->n == 3)
            i++;
        if (i + 1 == w->n) {
            out->kind = TXS_CLI_RELEASE;
            set_name(out, w, i);
        }
    }
}

void txs_cli_parse_statement(const char *stmt, txs_cli_cmd_t *out)
{
    reset_cmd(out, TXS_CLI_SQL);
    size_t n = strlen(stmt);
    while (n > 0 && isspace((unsigned char)stmt[n - 1]))
        n--;
    if (n > 0 && stmt[n - 1] == ';')
        n--;
    if (memchr(stmt, ';', n) != NULL || n > 1024)
        return; /* more than one statement: SQL, for the splitter */
    char *copy = cli_xstrndup(stmt, n);
    words_t *w = cli_xmalloc(sizeof *w);
    if (split_words(copy, w) && w->n > 0)
        classify(w, out);
    free(w);
    free(copy);
}

bool txs_cli_is_meta(const char *line)
{
    while (isspace((unsigned char)*line))
        line++;
    return *line == '\\';
}

void txs_cli_parse_meta(const char *line, txs_cli_cmd_t *out)
{
    reset_cmd(out, TXS_CLI_BAD);
    while (isspace((unsigned char)*line))
        line++;
    if (*line == '\\')
        line++;
    char name[16];
    size_t n = 0;
    while (line[n] != '\0' && !isspace((unsigned char)line[n]))
        n++;
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), line);
    const char *args = line + n;
    while (isspace((unsigned char)*args))
        args++;
    size_t alen = strlen(args);
    while (alen > 0 && isspace((unsigned char)args[alen - 1]))
        alen--;

    static const struct {
        const char *name;
        txs_cli_kind_t kind;
    } plain[] = {
        {"commit", TXS_CLI_COMMIT}, {"rollback", TXS_CLI_ROLLBACK},
        {"status", TXS_CLI_STATUS}, {"end", TXS_CLI_END},
        {"json", TXS_CLI_JSON},     {"q", TXS_CLI_QUIT},
        {"quit", TXS_CLI_QUIT},     {"?", TXS_CLI_HELP},
        {"help", TXS_CLI_HELP},     {"r", TXS_CLI_RESET},
    };
    if (n >= sizeof name) {
        snprintf(out->error, sizeof out->error, "unknown command \\%.*s (\\? lists them)",
                 (int)(n > 40 ? 40 : n), line);
        return;
    }
    if (strcmp(name, "begin") == 0) {
        char *words = cli_xstrndup(args, alen);
        if (txs_cli_parse_begin(words, &out->begin, out->error, sizeof out->error))
            out->kind = TXS_CLI_BEGIN;
        free(words);
        return;
    }
    if (strcmp(name, "ctx") == 0) {
        if (alen > 128) {
            snprintf(out->error, sizeof out->error, "a context name has 1 to 128 characters");
            return;
        }
        for (size_t i = 0; i < alen; i++) {
            if (args[i] < 0x20 || args[i] > 0x7e) {
                snprintf(out->error, sizeof out->error,
                         "a context name is made of printable ASCII characters");
                return;
            }
        }
        out->kind = TXS_CLI_CTX;
        memcpy(out->arg, args, alen);
        out->arg[alen] = '\0';
        return;
    }
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (strcmp(name, plain[i].name) == 0) {
            if (alen > 0)
                snprintf(out->error, sizeof out->error, "\\%s takes no argument", name);
            else
                out->kind = plain[i].kind;
            return;
        }
    }
    snprintf(out->error, sizeof out->error, "unknown command \\%s (\\? lists them)", name);
}
