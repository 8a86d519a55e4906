/* sqlclass.c - recognising transaction control, and MySQL's implicitly committing
 * statements, from their leading words. */
#include "protocol/sqlclass.h"

#include <string.h>

/* PostgreSQL and MySQL read comments differently: PostgreSQL nests block comments;
 * MySQL ends one at the first close, runs the body of an executable comment (a block
 * comment opened with a '!' or, in MariaDB, with "M!") as code, and also takes '#' to
 * end of line. The statement is read once per dialect and refused when either reading
 * finds transaction control, so a comment cannot hide a COMMIT from one backend while
 * the other runs it. */
typedef struct lexer {
    const char *s;
    size_t len;
    size_t pos;
    bool mysql;
    bool in_exec_comment; /* inside a MySQL executable comment: skip its close */
} lexer_t;

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Identifier characters of both dialects; bytes >= 0x80 are letters to both. */
static bool is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || (unsigned char)c >= 0x80;
}

static bool at(const lexer_t *lx, size_t off, char c)
{
    return lx->pos + off < lx->len && lx->s[lx->pos + off] == c;
}

static void skip_to_eol(lexer_t *lx)
{
    while (lx->pos < lx->len && lx->s[lx->pos] != '\n')
        lx->pos++;
}

size_t txs_sql_block_comment_end(const char *s, size_t len, size_t pos, bool nested)
{
    int depth = 0;
    while (pos < len) {
        bool opens = pos + 1 < len && s[pos] == '/' && s[pos + 1] == '*';
        bool closes = pos + 1 < len && s[pos] == '*' && s[pos + 1] == '/';
        if (opens && (nested || depth == 0)) {
            depth++;
            pos += 2;
        } else if (closes) {
            pos += 2;
            if (--depth == 0)
                return pos;
        } else {
            pos++;
        }
    }
    return len;
}

static void skip_space(lexer_t *lx)
{
    while (lx->pos < lx->len) {
        char c = lx->s[lx->pos];
        if (is_space(c)) {
            lx->pos++;
        } else if (c == '-' && at(lx, 1, '-')) {
            skip_to_eol(lx);
        } else if (c == '#' && lx->mysql) {
            skip_to_eol(lx);
        } else if (c == '/' && at(lx, 1, '*')) {
            size_t bang = at(lx, 2, '!') ? 3 : at(lx, 2, 'M') && at(lx, 3, '!') ? 4 : 0;
            if (lx->mysql && bang) {
                /* Executable comment: skip the opener and its version number. */
                lx->pos += bang;
                while (lx->pos < lx->len && lx->s[lx->pos] >= '0' && lx->s[lx->pos] <= '9')
                    lx->pos++;
                lx->in_exec_comment = true;
            } else {
                lx->pos = txs_sql_block_comment_end(lx->s, lx->len, lx->pos, !lx->mysql);
            }
        } else if (c == '*' && at(lx, 1, '/') && lx->in_exec_comment) {
            lx->pos += 2;
            lx->in_exec_comment = false;
        } else {
            break;
        }
    }
}

/* The next word, or false when the next token is not a word (or there is none). */
static bool next_word(lexer_t *lx, const char **w, size_t *n)
{
    skip_space(lx);
    size_t start = lx->pos;
    while (lx->pos < lx->len && is_ident(lx->s[lx->pos]))
        lx->pos++;
    *w = lx->s + start;
    *n = lx->pos - start;
    return *n > 0;
}

/* Case-insensitive comparison with an upper-case keyword. */
static bool word_is(const char *w, size_t n, const char *kw)
{
    size_t k = strlen(kw);
    if (n != k)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = w[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != kw[i])
            return false;
    }
    return true;
}

/* The next word is kw (and is consumed); otherwise nothing is consumed. */
static bool accept(lexer_t *lx, const char *kw)
{
    size_t save = lx->pos;
    bool in_exec = lx->in_exec_comment;
    const char *w;
    size_t n;
    if (next_word(lx, &w, &n) && word_is(w, n, kw))
        return true;
    lx->pos = save;
    lx->in_exec_comment = in_exec;
    return false;
}

/* Any word of the rest of the text, strings and comments included, is kw. Used for
 * MySQL's SET, which may assign several variables and whose string quoting depends
 * on sql_mode: reading it loosely can only refuse too much, never too little. */
static bool any_word_is(const lexer_t *lx, const char *kw)
{
    size_t i = lx->pos;
    while (i < lx->len) {
        if (!is_ident(lx->s[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < lx->len && is_ident(lx->s[i]))
            i++;
        if (word_is(lx->s + start, i - start, kw))
            return true;
    }
    return false;
}

static const char *classify(lexer_t *lx);

/* MariaDB's SET STATEMENT var = value [, ...] FOR statement: the statement after the
 * first FOR word is what runs. Read loosely (FOR inside a value's string counts too):
 * it can only refuse too much. */
static const char *classify_set_statement(lexer_t *lx)
{
    const char *w;
    size_t n;
    while (lx->pos < lx->len) {
        if (next_word(lx, &w, &n)) {
            if (word_is(w, n, "FOR"))
                return classify(lx);
        } else {
            lx->pos++;
        }
    }
    return NULL;
}

static const char *classify_set(lexer_t *lx)
{
    if (lx->mysql && accept(lx, "STATEMENT"))
        return classify_set_statement(lx);
    const lexer_t rest = *lx;
    /* SET [LOCAL | SESSION | GLOBAL | PERSIST | PERSIST_ONLY] TRANSACTION ... */
    (void)(accept(lx, "LOCAL") || accept(lx, "GLOBAL") || accept(lx, "PERSIST") ||
           accept(lx, "PERSIST_ONLY"));
    /* ... or [LOCAL] SESSION CHARACTERISTICS AS TRANSACTION ... */
    if (accept(lx, "SESSION") && accept(lx, "CHARACTERISTICS"))
        return "SET SESSION CHARACTERISTICS";
    if (accept(lx, "TRANSACTION"))
        return "SET TRANSACTION";
    if (any_word_is(&rest, "AUTOCOMMIT"))
        return "SET AUTOCOMMIT";
    return NULL;
}

static const char *classify(lexer_t *lx)
{
    const char *w;
    size_t n;
    if (!next_word(lx, &w, &n))
        return NULL;
    if (word_is(w, n, "BEGIN"))
        return "BEGIN";
    if (word_is(w, n, "START"))
        return accept(lx, "TRANSACTION") ? "START TRANSACTION" : NULL;
    if (word_is(w, n, "COMMIT")) {
        return accept(lx, "PREPARED") ? "COMMIT PREPARED" : "COMMIT";
    }
    if (word_is(w, n, "ROLLBACK")) {
        if (accept(lx, "PREPARED"))
            return "ROLLBACK PREPARED";
        if (!accept(lx, "WORK"))
            accept(lx, "TRANSACTION");
        return accept(lx, "TO") ? "ROLLBACK TO SAVEPOINT" : "ROLLBACK";
    }
    if (word_is(w, n, "END"))
        return "END";
    if (word_is(w, n, "ABORT"))
        return "ABORT";
    if (word_is(w, n, "SAVEPOINT"))
        return "SAVEPOINT";
    if (word_is(w, n, "RELEASE"))
        return "RELEASE SAVEPOINT";
    if (word_is(w, n, "PREPARE"))
        return accept(lx, "TRANSACTION") ? "PREPARE TRANSACTION" : NULL;
    if (word_is(w, n, "XA"))
        return "XA";
    if (word_is(w, n, "SET"))
        return classify_set(lx);
    return NULL;
}

bool txs_sql_first_word_in(const char *sql, size_t len, const char *const *words)
{
    lexer_t lx = {.s = sql, .len = len};
    const char *w;
    size_t n;
    if (!next_word(&lx, &w, &n))
        return false;
    for (; *words; words++)
        if (word_is(w, n, *words))
            return true;
    return false;
}

bool txs_sql_is_copy_from_stdin(const char *sql, size_t len)
{
    lexer_t lx = {.s = sql, .len = len};
    const char *w;
    size_t n;
    if (!next_word(&lx, &w, &n) || !word_is(w, n, "COPY"))
        return false;
    for (size_t i = lx.pos; i + 5 <= len; i++)
        if (word_is(sql + i, 5, "STDIN"))
            return true;
    return false;
}

bool txs_sql_is_tx_control(const char *sql, size_t len, const char **what)
{
    const char *name = NULL;
    for (int mysql = 0; mysql <= 1 && !name; mysql++) {
        lexer_t lx = {.s = sql, .len = len, .mysql = mysql};
        name = classify(&lx);
    }
    if (what)
        *what = name;
    return name != NULL;
}

/* MySQL's "statements that cause an implicit commit", read with MySQL's comment rules:
 * the first word names them, except a CREATE or DROP of a TEMPORARY table. */
static const char *const implicit_commit_words[] = {
    "ALTER",    "CREATE", "DROP",    "RENAME",  "TRUNCATE",  "GRANT", "REVOKE",
    "LOCK",     "UNLOCK", "ANALYZE", "CACHE",   "CHECK",     "FLUSH", "LOAD",
    "OPTIMIZE", "REPAIR", "RESET",   "INSTALL", "UNINSTALL", NULL,
};

bool txs_sql_commits_implicitly(const char *sql, size_t len, const char **what)
{
    lexer_t lx = {.s = sql, .len = len, .mysql = true};
    const char *w;
    size_t n;
    const char *name = NULL;
    if (next_word(&lx, &w, &n)) {
        for (int i = 0; implicit_commit_words[i] && !name; i++)
            if (word_is(w, n, implicit_commit_words[i]))
                name = implicit_commit_words[i];
        if (name && strcmp(name, "CREATE") == 0) {
            if (accept(&lx, "OR"))
                accept(&lx, "REPLACE");
            if (accept(&lx, "TEMPORARY"))
                name = NULL;
        } else if (name && strcmp(name, "DROP") == 0 && accept(&lx, "TEMPORARY")) {
            name = NULL;
        } else if (name && strcmp(name, "LOAD") == 0 && !accept(&lx, "INDEX")) {
            name = NULL; /* LOAD DATA / LOAD XML are plain statements */
        } else if (!name && word_is(w, n, "SET") && accept(&lx, "PASSWORD")) {
            name = "SET PASSWORD";
        }
    }
    if (what)
        *what = name;
    return name != NULL;
}
