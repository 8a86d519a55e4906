/* pg_state.c - which PostgreSQL statements may leave session state behind. Pure code. */
#include "drivers/pg_state.h"

#include <string.h>

#include "protocol/sqlclass.h"

/* A reading of the statement, word by word: strings and comments are skipped, a quoted
 * identifier is a word. */
typedef struct scan {
    const char *s;
    size_t len;
    size_t pos;
    bool backslash_quotes; /* '..' strings take backslash escapes, as with
                              standard_conforming_strings off */
} scan_t;

static bool is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool is_ident(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static bool at(const scan_t *sc, size_t off, char c)
{
    return sc->pos + off < sc->len && sc->s[sc->pos + off] == c;
}

/* Past a string whose opening quote is at pos; `escapes`: a backslash takes the next
 * character literally. An unclosed string runs to the end. */
static void skip_string(scan_t *sc, bool escapes)
{
    sc->pos++;
    while (sc->pos < sc->len) {
        if (!escapes) { /* only a quote matters: jump to the next one */
            const char *q = memchr(sc->s + sc->pos, '\'', sc->len - sc->pos);
            sc->pos = q ? (size_t)(q - sc->s) : sc->len;
            if (!q)
                return;
        }
        char c = sc->s[sc->pos++];
        if (c == '\\' && escapes) {
            if (sc->pos < sc->len)
                sc->pos++;
        } else if (c == '\'') {
            if (!at(sc, 0, '\''))
                return;
            sc->pos++; /* '' is a quote inside the string */
        }
    }
}

/* At a '$' that starts a token: past a dollar-quoted string ($$..$$, $tag$..$tag$), or
 * past the '$' alone (a parameter such as $1, whose digits are read as a word). */
static void skip_dollar(scan_t *sc)
{
    size_t end = sc->pos + 1;
    if (end < sc->len && is_ident_start((unsigned char)sc->s[end])) {
        while (end < sc->len && is_ident((unsigned char)sc->s[end]) && sc->s[end] != '$')
            end++;
    }
    if (end >= sc->len || sc->s[end] != '$') {
        sc->pos++;
        return;
    }
    size_t tag_len = end + 1 - sc->pos; /* "$tag$" */
    const char *tag = sc->s + sc->pos;
    const char *body = sc->s + end + 1;
    const char *close = memmem(body, sc->len - (end + 1), tag, tag_len);
    sc->pos = close ? (size_t)(close - sc->s) + tag_len : sc->len;
}

/* The next word (an identifier or keyword, or a quoted identifier's text), or false at
 * the end of the text. */
static bool next_word(scan_t *sc, const char **w, size_t *n)
{
    while (sc->pos < sc->len) {
        unsigned char c = (unsigned char)sc->s[sc->pos];
        if (c == '-' && at(sc, 1, '-')) {
            while (sc->pos < sc->len && sc->s[sc->pos] != '\n')
                sc->pos++;
        } else if (c == '/' && at(sc, 1, '*')) {
            sc->pos = txs_sql_block_comment_end(sc->s, sc->len, sc->pos, true);
        } else if (c == '\'') {
            skip_string(sc, sc->backslash_quotes);
        } else if (c == '$') {
            skip_dollar(sc);
        } else if (c == '"') {
            /* a quoted identifier: its text is the word ("" inside stays doubled) */
            size_t start = ++sc->pos;
            while (sc->pos < sc->len && !(sc->s[sc->pos] == '"' && !at(sc, 1, '"')))
                sc->pos += sc->s[sc->pos] == '"' ? 2 : 1;
            *w = sc->s + start;
            *n = sc->pos - start;
            if (sc->pos < sc->len)
                sc->pos++;
            return true;
        } else if (is_ident(c)) {
            size_t start = sc->pos;
            while (sc->pos < sc->len && is_ident((unsigned char)sc->s[sc->pos]))
                sc->pos++;
            *w = sc->s + start;
            *n = sc->pos - start;
            /* E'..' takes backslash escapes, whatever the setting */
            if (*n == 1 && ((*w)[0] == 'E' || (*w)[0] == 'e') && at(sc, 0, '\''))
                skip_string(sc, true);
            return true;
        } else {
            sc->pos++;
        }
    }
    return false;
}

/* Case-insensitive comparison with a lower-case keyword. */
static bool word_is(const char *w, size_t n, const char *kw)
{
    size_t i = 0;
    for (; i < n && kw[i]; i++) {
        char c = w[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != kw[i])
            return false;
    }
    return i == n && kw[i] == '\0';
}

static bool word_in(const char *w, size_t n, const char *const *list)
{
    for (; *list; list++)
        if (word_is(w, n, *list))
            return true;
    return false;
}

/* Words that mark the session wherever they appear. */
static const char *const anywhere[] = {
    "temp",
    "temporary",
    "pg_temp",
    "set_config",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "dblink_connect",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "dblink_connect_u",
    NULL,
};

/* First words of statements that change the session by themselves. */
static const char *const first_words[] = {
    "reset", "listen", "prepare", "declare", "load", "discard", NULL,
};

/* What the statement's first word asks of the words after it. */
enum first {
    FIRST_OTHER,
    FIRST_SET,    /* SET: dirty unless the next word is LOCAL, TRANSACTION, CONSTRAINTS */
    FIRST_SELECT, /* SELECT: dirty with a word INTO */
    FIRST_UPDATE, /* UPDATE: dirty with a word pg_settings */
};

static bool scan_changes(scan_t *sc)
{
    static const char *const set_scoped[] = {"local", "transaction", "constraints", NULL};
    const char *w;
    size_t n;
    if (!next_word(sc, &w, &n))
        return false;
    if (word_in(w, n, first_words) || word_in(w, n, anywhere))
        return true;
    enum first first = word_is(w, n, "set")      ? FIRST_SET
                       : word_is(w, n, "select") ? FIRST_SELECT
                       : word_is(w, n, "update") ? FIRST_UPDATE
                                                 : FIRST_OTHER;
    if (first == FIRST_SET) {
        if (!next_word(sc, &w, &n) || !word_in(w, n, set_scoped))
            return true;
        first = FIRST_OTHER;
    }
    while (next_word(sc, &w, &n)) {
        if (n < 4)
            continue;          /* shorter than any word looked for */
        switch (w[0] | 0x20) { /* the first letter in lower case: most words end here */
        case 't':
        case 'p':
        case 's':
        case 'd':
            if (word_in(w, n, anywhere) || (first == FIRST_UPDATE && word_is(w, n, "pg_settings")))
                return true;
            break;
        case 'i':
            if (first == FIRST_SELECT && word_is(w, n, "into"))
                return true;
            break;
        default:
            break;
        }
    }
    return false;
}

bool txs_pg_changes_session(const char *sql, size_t len)
{
    scan_t sc = {.s = sql, .len = len};
    if (scan_changes(&sc))
        return true;
    if (!memchr(sql, '\\', len))
        return false;
    /* Where a plain string ends depends on standard_conforming_strings: read it the
     * other way too, so that no setting hides a word. */
    sc = (scan_t){.s = sql, .len = len, .backslash_quotes = true};
    return scan_changes(&sc);
}
