/* config.c - loading: the ini file (through inih), the TXSCOPE_* overrides, the [txscope]
 * defaults of the [db.NAME] keys, and the client tokens. The keys are in keys.c. */
#include "conf/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/keys.h"
#include "daemon/journal.h"
#include "protocol/buf.h"
#include "protocol/errors.h"
#include "protocol/mask.h"

/* Debian's inih turns its compile-time limits into variables; where they exist, allow
 * lines long enough for a DSN with a host list and options (upstream stops at 200). */
#pragma weak ini_max_line
#define LINE_MAX_BYTES 4096

#define ENV_PREFIX "TXSCOPE_"
#define ENV_DB_PREFIX "TXSCOPE_DB_"
#define ENV_TOKEN_PREFIX "TXSCOPE_TOKEN_"
#define ENV_CONFIG "TXSCOPE_CONFIG" /* main()'s: the file to read; not a key */

/* What the loader knows about a db beyond txs_db_conf_t: where it came from. */
typedef struct db_meta {
    int line;                     /* its [db.NAME] header, 0 when the environment created it */
    char *var;                    /* else the variable that created it */
    int key_line[TXS_CONF_NKEYS]; /* where each key was set in the file, 0 = not set */
    bool key_env[TXS_CONF_NKEYS]; /* set by TXSCOPE_DB_<NAME>_<KEY> */
} db_meta_t;

/* Where a token came from, for errors: a line of the file or a variable. */
typedef struct token_meta {
    int line;
    char *var;
} token_meta_t;

typedef struct loader {
    txs_conf_t *conf;
    db_meta_t *meta; /* parallel to conf->dbs */
    int dbcap;
    token_meta_t *tmeta; /* parallel to conf->tokens, which holds only named ones until
                            finish_tokens() puts auth_token in front */
    int tokcap;
    int ntok; /* named tokens so far: conf->ntokens until auth_token joins them */
    const char *path;
    char *text;      /* the whole file */
    const char *pos; /* the next line to hand to inih */
    const char *end;
    int lineno;      /* of the line inih has now */
    bool in_section; /* false before the first header */
    txs_conf_section_t section;
    int db;           /* the current [db.NAME], an index into conf->dbs */
    int txscope_line; /* the [txscope] header, 0 = none yet */
    int tokens_line;  /* the [tokens] header, 0 = none yet */
    /* [txscope] lines (key_line) and TXSCOPE_<KEY> variables (key_env) by key: the
     * [txscope] keys, and the [db.NAME] keys written there as the default for every db,
     * whose values wait in dflt until every db is known. */
    int key_line[TXS_CONF_NKEYS];
    bool key_env[TXS_CONF_NKEYS];
    txs_db_conf_t dflt;
    char *err;
    size_t errlen;
    bool failed;
    int err_line; /* the file line of the error */
} loader_t;

static void fail(loader_t *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first error only: later ones tend to follow from it. */
static void fail(loader_t *ld, const char *fmt, ...)
{
    if (ld->failed)
        return;
    ld->failed = true;
    ld->err_line = ld->lineno;
    if (ld->err && ld->errlen > 0) {
        /* Masked before it is cut to fit: a message may quote a dsn or a secret's line. */
        txs_buf_t raw = TXS_BUF_INIT;
        va_list ap;
        va_start(ap, fmt);
        txs_buf_vprintf(&raw, fmt, ap);
        va_end(ap);
        txs_buf_putc(&raw, '\0');
        txs_mask_copy(ld->err, ld->errlen, raw.data);
        txs_buf_free(&raw);
    }
}

static void upper_copy(const char *s, char *buf, size_t len)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        buf[i] = (char)toupper((unsigned char)s[i]);
    buf[i] = '\0';
}

/* A [db.NAME] or [tokens] name; upper: as written in a variable. */
static bool valid_name(const char *name, size_t len, bool upper)
{
    if (len < 1 || len > TXS_CONF_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool letter = upper ? (c >= 'A' && c <= 'Z') : (c >= 'a' && c <= 'z');
        if (!letter && !(c >= '0' && c <= '9') && c != '_')
            return false;
    }
    return true;
}

static int find_db(const txs_conf_t *conf, const char *name)
{
    for (int i = 0; i < conf->ndbs; i++)
        if (strcmp(conf->dbs[i].name, name) == 0)
            return i;
    return -1;
}

/* Appends a db with the defaults; `name` is valid and not yet there. */
static int add_db(loader_t *ld, const char *name, int line, const char *var)
{
    txs_conf_t *c = ld->conf;
    if (c->ndbs == ld->dbcap) {
        ld->dbcap = ld->dbcap ? 2 * ld->dbcap : 4;
        c->dbs = txs_xrealloc(c->dbs, (size_t)ld->dbcap * sizeof *c->dbs);
        ld->meta = txs_xrealloc(ld->meta, (size_t)ld->dbcap * sizeof *ld->meta);
    }
    txs_db_conf_t *db = &c->dbs[c->ndbs];
    memset(db, 0, sizeof *db);
    snprintf(db->name, sizeof db->name, "%s", name);
    txs_conf_keys_apply_defaults(TXS_CS_DB, db);
    db_meta_t *m = &ld->meta[c->ndbs];
    memset(m, 0, sizeof *m);
    m->line = line;
    m->var = var ? txs_xstrdup(var) : NULL;
    return c->ndbs++;
}

/* A [section] header, seen by the reader before inih: inih tells the handler only
 * about keys, so an empty or duplicated section would otherwise pass unnoticed. */
static void on_section(loader_t *ld, const char *line)
{
    const char *close = strchr(line, ']');
    if (!close)
        return; /* inih reports the line */
    const char *name = line + 1;
    size_t n = (size_t)(close - name);
    const char *after = close + 1;
    while (isspace((unsigned char)*after))
        after++;
    if (*after != '\0' && *after != ';' && *after != '#') {
        fail(ld, "%s:%d: text after [%.*s]; expected nothing or a ; comment", ld->path, ld->lineno,
             (int)n, name);
        return;
    }
    if (n == strlen("txscope") && memcmp(name, "txscope", n) == 0) {
        if (ld->txscope_line) {
            fail(ld, "%s:%d: [txscope] appears twice (first on line %d); merge the two", ld->path,
                 ld->lineno, ld->txscope_line);
            return;
        }
        ld->txscope_line = ld->lineno;
        ld->in_section = true;
        ld->section = TXS_CS_TXSCOPE;
        return;
    }
    if (n == strlen("tokens") && memcmp(name, "tokens", n) == 0) {
        if (ld->tokens_line) {
            fail(ld, "%s:%d: [tokens] appears twice (first on line %d); merge the two", ld->path,
                 ld->lineno, ld->tokens_line);
            return;
        }
        ld->tokens_line = ld->lineno;
        ld->in_section = true;
        ld->section = TXS_CS_TOKENS;
        return;
    }
    if (n >= 3 && memcmp(name, "db.", 3) == 0) {
        if (!valid_name(name + 3, n - 3, false)) {
            fail(ld,
                 "%s:%d: [%.*s]: expected [db.NAME] with NAME 1 to %d characters of a-z, 0-9 "
                 "and _",
                 ld->path, ld->lineno, (int)n, name, TXS_CONF_NAME_MAX);
            return;
        }
        char dbname[TXS_CONF_NAME_MAX + 1];
        memcpy(dbname, name + 3, n - 3);
        dbname[n - 3] = '\0';
        int i = find_db(ld->conf, dbname);
        if (i >= 0) {
            fail(ld, "%s:%d: [db.%s] appears twice (first on line %d); merge the two", ld->path,
                 ld->lineno, dbname, ld->meta[i].line);
            return;
        }
        ld->db = add_db(ld, dbname, ld->lineno, NULL);
        ld->in_section = true;
        ld->section = TXS_CS_DB;
        return;
    }
    fail(ld, "%s:%d: unknown section [%.*s]; expected [txscope], [db.NAME] or [tokens]", ld->path,
         ld->lineno, (int)n, name);
}

/* inih's fgets: one line of the file per call, counted, so errors can name it. */
static char *read_line(char *str, int num, void *stream)
{
    loader_t *ld = stream;
    if (ld->failed || ld->pos >= ld->end)
        return NULL;
    const char *start = ld->pos;
    const char *nl = memchr(start, '\n', (size_t)(ld->end - start));
    const char *stop = nl ? nl + 1 : ld->end;
    ld->pos = stop;
    ld->lineno++;
    /* Leading blanks never matter here; dropping them stops inih from reading an
     * indented line as the continuation of the value above. */
    while (start < stop && (*start == ' ' || *start == '\t'))
        start++;
    size_t n = (size_t)(stop - start), content = n;
    while (content > 0 && (start[content - 1] == '\n' || start[content - 1] == '\r'))
        content--;
    if (num < 3 || content > (size_t)num - 3) {
        fail(ld, "%s:%d: line longer than %d bytes", ld->path, ld->lineno, num < 3 ? 0 : num - 3);
        return NULL;
    }
    memcpy(str, start, n);
    str[n] = '\0';
    if (*str == '[')
        on_section(ld, str);
    return ld->failed ? NULL : str;
}

/* "value" in double quotes means value: for a token with a ';' or spaces at the ends.
 * Returns the copy to free (NULL when there were no quotes). */
static char *unquote(const char **value)
{
    size_t len = strlen(*value);
    if (len < 2 || (*value)[0] != '"' || (*value)[len - 1] != '"')
        return NULL;
    char *copy = txs_xstrndup(*value + 1, len - 2);
    *value = copy;
    return copy;
}

/* While loading, the named tokens are tokens[0..ld->ntok) with tmeta parallel to them. */
static int find_token(const loader_t *ld, const char *name)
{
    for (int i = 0; i < ld->ntok; i++)
        if (strcmp(ld->conf->tokens[i].name, name) == 0)
            return i;
    return -1;
}

/* Adds the token `name` (valid), or replaces its secret; line or var says from where. */
static void set_token(loader_t *ld, const char *name, const char *secret, int line, const char *var)
{
    txs_conf_t *c = ld->conf;
    int i = find_token(ld, name);
    if (i < 0) {
        if (ld->ntok >= ld->tokcap) {
            ld->tokcap = ld->tokcap ? 2 * ld->tokcap : 4;
            c->tokens = txs_xrealloc(c->tokens, (size_t)ld->tokcap * sizeof *c->tokens);
            ld->tmeta = txs_xrealloc(ld->tmeta, (size_t)ld->tokcap * sizeof *ld->tmeta);
        }
        i = ld->ntok++;
        c->ntokens = ld->ntok;
        memset(&c->tokens[i], 0, sizeof c->tokens[i]);
        memset(&ld->tmeta[i], 0, sizeof ld->tmeta[i]);
        snprintf(c->tokens[i].name, sizeof c->tokens[i].name, "%s", name);
    }
    assert(ld->tmeta); /* grown with tokens above */
    free(c->tokens[i].secret);
    c->tokens[i].secret = txs_xstrdup(secret);
    free(ld->tmeta[i].var);
    ld->tmeta[i].line = line;
    ld->tmeta[i].var = var ? txs_xstrdup(var) : NULL;
}

/* NAME = secret under [tokens]. Messages never show a secret. */
static void on_token(loader_t *ld, const char *name, const char *value)
{
    if (!valid_name(name, strlen(name), false)) {
        fail(ld,
             "%s:%d: [tokens] %s: expected NAME = secret with NAME 1 to %d characters of a-z, "
             "0-9 and _ (the principal's name)",
             ld->path, ld->lineno, name, TXS_CONF_NAME_MAX);
        return;
    }
    int i = find_token(ld, name);
    if (i >= 0) {
        fail(ld, "%s:%d: [tokens] %s: set twice (first on line %d)", ld->path, ld->lineno, name,
             ld->tmeta[i].line);
        return;
    }
    char *unquoted = unquote(&value);
    if (*value == '\0')
        fail(ld, "%s:%d: [tokens] %s = \"\": expected a non-empty secret", ld->path, ld->lineno,
             name);
    else
        set_token(ld, name, value, ld->lineno, NULL);
    free(unquoted);
}

/* A [db.NAME] key that may not be a default for every db (dsn) written as one; `where`
 * says where and which: "t.ini:3: [txscope] dsn" or "TXSCOPE_DSN". */
static void no_txscope_default(loader_t *ld, const char *where, const txs_conf_key_t *k)
{
    char ukey[64];
    upper_copy(k->info.name, ukey, sizeof ukey);
    fail(ld,
         "%s: cannot be the default for every db: each db needs its own %s; set it under "
         "[db.NAME], or as TXSCOPE_DB_<NAME>_%s",
         where, k->info.name, ukey);
}

/* An unknown key in [txscope] or [label]: what the section takes, and where a key of the
 * other section would go. */
static void unknown_key(loader_t *ld, const char *label, const char *name)
{
    char list[512], dbs[512];
    if (ld->section == TXS_CS_TXSCOPE) {
        txs_conf_key_list(TXS_CS_TXSCOPE, false, false, list, sizeof list);
        txs_conf_key_list(TXS_CS_DB, true, false, dbs, sizeof dbs);
        fail(ld,
             "%s:%d: [txscope] %s: unknown key; expected one of: %s; or, as the default for "
             "every db, one of: %s",
             ld->path, ld->lineno, name, list, dbs);
    } else if (txs_conf_key_find(TXS_CS_TXSCOPE, name)) {
        fail(ld, "%s:%d: [%s] %s: a key of the whole daemon, not of one db; move it to [txscope]",
             ld->path, ld->lineno, label, name);
    } else {
        txs_conf_key_list(TXS_CS_DB, false, false, list, sizeof list);
        fail(ld, "%s:%d: [%s] %s: unknown key; expected one of: %s", ld->path, ld->lineno, label,
             name, list);
    }
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
    loader_t *ld = user;
    if (ld->failed)
        return 0;
    size_t word = strcspn(name, " \t");
    if (name[word]) {
        /* "auth_token s3cret: x" has no '=', and inih split it at the ':': only the first
         * word is shown, the rest may be a secret. */
        fail(ld, "%s:%d: \"%.*s ...\": expected key = value; a key has no blanks", ld->path,
             ld->lineno, (int)word, name);
        return 0;
    }
    if (!ld->in_section) {
        fail(ld,
             "%s:%d: %s: a key outside any section; put it under [txscope], [db.NAME] or "
             "[tokens]",
             ld->path, ld->lineno, name);
        return 0;
    }
    if (ld->section == TXS_CS_TOKENS) {
        on_token(ld, name, value);
        return !ld->failed;
    }
    char label[TXS_CONF_NAME_MAX + 8];
    void *base;
    int *lines;
    if (ld->section == TXS_CS_TXSCOPE) {
        snprintf(label, sizeof label, "txscope");
        base = ld->conf;
        lines = ld->key_line;
    } else {
        snprintf(label, sizeof label, "db.%s", ld->conf->dbs[ld->db].name);
        base = &ld->conf->dbs[ld->db];
        lines = ld->meta[ld->db].key_line;
    }
    const txs_conf_key_t *k = txs_conf_key_find(ld->section, name);
    if (!k && ld->section == TXS_CS_TXSCOPE && (k = txs_conf_key_find(TXS_CS_DB, name))) {
        if (!txs_conf_key_has_txscope_default(k)) {
            char where[300];
            snprintf(where, sizeof where, "%s:%d: [txscope] %s", ld->path, ld->lineno, name);
            no_txscope_default(ld, where, k);
            return 0;
        }
        base = &ld->dflt; /* a db key: the default for every db, applied once all are known */
    }
    if (!k) {
        unknown_key(ld, label, name);
        return 0;
    }
    size_t idx = (size_t)(k - txs_conf_keys);
    if (lines[idx]) {
        fail(ld, "%s:%d: [%s] %s: set twice (first on line %d)", ld->path, ld->lineno, label, name,
             lines[idx]);
        return 0;
    }
    lines[idx] = ld->lineno;
    char *unquoted = unquote(&value);
    if (!txs_conf_key_set(k, base, value)) {
        char expected[256];
        txs_conf_key_describe(k, expected, sizeof expected);
        fail(ld, "%s:%d: [%s] %s = \"%s\": %s", ld->path, ld->lineno, label, name, value, expected);
    }
    free(unquoted);
    return !ld->failed;
}

/* inih names only the number of a line it could not parse; show the line too. */
static void syntax_error(loader_t *ld, int line)
{
    const char *p = ld->text;
    bool in_tokens = false; /* the line is under [tokens] */
    for (int i = 1; i < line && p < ld->end; i++) {
        const char *q = p;
        while (q < ld->end && (*q == ' ' || *q == '\t'))
            q++;
        if (q < ld->end && *q == '[')
            in_tokens = ld->end - q >= 8 && memcmp(q, "[tokens]", 8) == 0;
        const char *nl = memchr(p, '\n', (size_t)(ld->end - p));
        p = nl ? nl + 1 : ld->end;
    }
    while (p < ld->end && (*p == ' ' || *p == '\t'))
        p++;
    size_t n = 0;
    while (p + n < ld->end && p[n] != '\n' && p[n] != '\r')
        n++;
    ld->failed = false; /* this error comes first in the file: it replaces a later one */
    ld->lineno = line;
    /* A token's line is not shown: whatever is wrong with it, it may hold the secret. */
    if ((in_tokens && *p != '[') || (n >= 10 && strncasecmp(p, "auth_token", 10) == 0)) {
        fail(ld,
             "%s:%d: a line that may hold a token (not shown): expected key = value, a ; or # "
             "comment, or nothing",
             ld->path, line);
        return;
    }
    fail(ld, "%s:%d: \"%.*s\": expected key = value, [section], a ; or # comment, or nothing",
         ld->path, line, (int)(n > 80 ? 80 : n), p);
}

static void parse_file(loader_t *ld, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(ld, "cannot open %s: %s", path, strerror(errno));
        return;
    }
    size_t len = 0, cap = 4096;
    ld->text = txs_xmalloc(cap);
    for (;;) {
        len += fread(ld->text + len, 1, cap - len, f);
        if (len < cap)
            break;
        cap *= 2;
        ld->text = txs_xrealloc(ld->text, cap);
    }
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    if (read_errno) {
        fail(ld, "cannot read %s: %s", path, strerror(read_errno));
        return;
    }
    ld->pos = ld->text;
    ld->end = ld->text + len;
    if (len >= 3 && memcmp(ld->text, "\xEF\xBB\xBF", 3) == 0)
        ld->pos += 3; /* a UTF-8 byte order mark, as some editors write */
    const char *nul = memchr(ld->text, '\0', len);
    if (nul) {
        for (const char *p = ld->text; p < nul; p++)
            ld->lineno += *p == '\n';
        ld->lineno++;
        fail(ld, "%s:%d: a NUL byte; expected a text file", path, ld->lineno);
        return;
    }
    if (&ini_max_line != NULL && ini_max_line < LINE_MAX_BYTES)
        ini_max_line = LINE_MAX_BYTES;
    int r = ini_parse_stream(read_line, ld, on_pair, ld);
    if (r > 0 && (!ld->failed || r < ld->err_line))
        syntax_error(ld, r);
    else if (r < 0)
        fail(ld, "%s: inih failed (%d)", path, r);
}

/* s (n bytes) is key upper-cased. */
static bool upper_eq(const char *s, size_t n, const char *key)
{
    if (strlen(key) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] != (char)toupper((unsigned char)key[i]))
            return false;
    return true;
}

static void set_from_env(loader_t *ld, const txs_conf_key_t *k, void *base, const char *var,
                         const char *value)
{
    if (!txs_conf_key_set(k, base, value)) {
        char expected[256];
        txs_conf_key_describe(k, expected, sizeof expected);
        fail(ld, "%s = \"%s\": %s", var, value, expected);
    }
}

/* TXSCOPE_DB_<NAME>_<KEY>: NAME may hold '_' too, so the longest key name that ends
 * the variable is the key and the rest the name. Returns false if no key fits. */
static bool apply_db_var(loader_t *ld, const char *var, const char *value)
{
    const char *tail = var + strlen(ENV_DB_PREFIX);
    size_t tlen = strlen(tail);
    const txs_conf_key_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < TXS_CONF_NKEYS; i++) {
        size_t klen = strlen(txs_conf_keys[i].info.name);
        if (txs_conf_keys[i].section != TXS_CS_DB || tlen < klen + 2 || klen <= best_len)
            continue;
        if (tail[tlen - klen - 1] == '_' &&
            upper_eq(tail + tlen - klen, klen, txs_conf_keys[i].info.name)) {
            best = &txs_conf_keys[i];
            best_len = klen;
        }
    }
    if (!best)
        return false;
    size_t nlen = tlen - best_len - 1;
    if (!valid_name(tail, nlen, true)) {
        fail(ld,
             "%s: expected TXSCOPE_DB_<NAME>_%.*s with NAME 1 to %d characters of A-Z, 0-9 and _ "
             "(the [db.NAME] name upper-cased)",
             var, (int)best_len, tail + nlen + 1, TXS_CONF_NAME_MAX);
        return true;
    }
    char name[TXS_CONF_NAME_MAX + 1];
    for (size_t i = 0; i < nlen; i++)
        name[i] = (char)tolower((unsigned char)tail[i]);
    name[nlen] = '\0';
    int i = find_db(ld->conf, name);
    if (i < 0)
        i = add_db(ld, name, 0, var);
    set_from_env(ld, best, &ld->conf->dbs[i], var, value);
    ld->meta[i].key_env[best - txs_conf_keys] = true;
    return true;
}

/* TXSCOPE_TOKEN_<NAME>=secret. An empty secret is an error rather than "no token": unlike
 * TXSCOPE_AUTH_TOKEN=, dropping one named token could quietly leave none, and with none
 * every client gets in. */
static void apply_token_var(loader_t *ld, const char *var, const char *value)
{
    const char *uname = var + strlen(ENV_TOKEN_PREFIX);
    size_t n = strlen(uname);
    if (!valid_name(uname, n, true)) {
        fail(ld,
             "%s: expected TXSCOPE_TOKEN_<NAME> with NAME 1 to %d characters of A-Z, 0-9 and _ "
             "(the [tokens] name upper-cased)",
             var, TXS_CONF_NAME_MAX);
        return;
    }
    if (*value == '\0') {
        fail(ld, "%s = \"\": expected a non-empty secret (unset the variable for no such token)",
             var);
        return;
    }
    char name[TXS_CONF_NAME_MAX + 1];
    for (size_t i = 0; i <= n; i++)
        name[i] = (char)tolower((unsigned char)uname[i]);
    set_token(ld, name, value, 0, var);
}

static void apply_var(loader_t *ld, const char *var, const char *value)
{
    if (strcmp(var, ENV_CONFIG) == 0)
        return;
    if (strncmp(var, ENV_TOKEN_PREFIX, strlen(ENV_TOKEN_PREFIX)) == 0) {
        apply_token_var(ld, var, value);
        return;
    }
    if (strncmp(var, ENV_DB_PREFIX, strlen(ENV_DB_PREFIX)) == 0) {
        if (apply_db_var(ld, var, value))
            return;
    } else {
        /* TXSCOPE_<KEY>: a [txscope] key, or a [db.NAME] key as the default for every db. */
        const char *rest = var + strlen(ENV_PREFIX);
        for (size_t i = 0; i < TXS_CONF_NKEYS; i++) {
            const txs_conf_key_t *k = &txs_conf_keys[i];
            if (!upper_eq(rest, strlen(rest), k->info.name))
                continue;
            if (k->section == TXS_CS_DB && !txs_conf_key_has_txscope_default(k)) {
                no_txscope_default(ld, var, k);
                return;
            }
            set_from_env(ld, k, k->section == TXS_CS_DB ? (void *)&ld->dflt : (void *)ld->conf, var,
                         value);
            ld->key_env[i] = true;
            return;
        }
    }
    char top[512], db[512];
    txs_conf_key_list(TXS_CS_TXSCOPE, false, true, top, sizeof top);
    txs_conf_key_list(TXS_CS_DB, false, true, db, sizeof db);
    fail(ld,
         "%s: unknown variable; expected TXSCOPE_<KEY> with KEY one of %s, or a db KEY below "
         "but DSN (the default for every db); or TXSCOPE_DB_<NAME>_<KEY> with KEY one of %s; "
         "or TXSCOPE_TOKEN_<NAME>; or " ENV_CONFIG,
         var, top, db);
}

static void apply_env(loader_t *ld, char *const *envp)
{
    for (; envp && *envp && !ld->failed; envp++) {
        const char *e = *envp;
        const char *eq = strchr(e, '=');
        if (strncmp(e, ENV_PREFIX, strlen(ENV_PREFIX)) != 0 || !eq)
            continue;
        char *var = txs_xstrndup(e, (size_t)(eq - e));
        apply_var(ld, var, eq + 1);
        free(var);
    }
}

/* After the file and the environment: a [db.NAME] key written under [txscope] (or as
 * TXSCOPE_<KEY>) is the default of every db that does not set it itself, wherever the
 * sections are in the file. */
static void apply_txscope_defaults(loader_t *ld)
{
    assert(ld->conf->ndbs == 0 || ld->meta != NULL); /* grown with dbs */
    for (int i = 0; i < ld->conf->ndbs; i++) {
        for (size_t j = 0; j < TXS_CONF_NKEYS; j++) {
            const txs_conf_key_t *k = &txs_conf_keys[j];
            bool has_default = ld->key_line[j] || ld->key_env[j];
            bool own = ld->meta[i].key_line[j] || ld->meta[i].key_env[j];
            if (k->section == TXS_CS_DB && has_default && !own)
                txs_conf_key_copy(k, &ld->conf->dbs[i], &ld->dflt);
        }
    }
}

typedef enum origin { FROM_DB, FROM_TXSCOPE, BUILT_IN } origin_t;

/* Where db i's key got its value, for errors: `where` is "t.ini:5" or the variable
 * (TXSCOPE_DB_MAIN_POOL_SIZE, TXSCOPE_POOL_SIZE), "" for the built-in default. */
static origin_t db_key_origin(const loader_t *ld, int i, const txs_conf_key_t *k, char *where,
                              size_t len)
{
    size_t j = (size_t)(k - txs_conf_keys);
    char uname[TXS_CONF_NAME_MAX + 1], ukey[64];
    upper_copy(ld->conf->dbs[i].name, uname, sizeof uname);
    upper_copy(k->info.name, ukey, sizeof ukey);
    where[0] = '\0';
    if (ld->meta[i].key_env[j])
        snprintf(where, len, ENV_DB_PREFIX "%s_%s", uname, ukey);
    else if (ld->meta[i].key_line[j])
        snprintf(where, len, "%s:%d", ld->path, ld->meta[i].key_line[j]);
    else if (ld->key_env[j])
        snprintf(where, len, ENV_PREFIX "%s", ukey);
    else if (ld->key_line[j])
        snprintf(where, len, "%s:%d", ld->path, ld->key_line[j]);
    else
        return BUILT_IN;
    return ld->meta[i].key_env[j] || ld->meta[i].key_line[j] ? FROM_DB : FROM_TXSCOPE;
}

/* Settings of one db that only make sense together. */
static void check_pools(loader_t *ld)
{
    const txs_conf_key_t *min_idle = txs_conf_key_find(TXS_CS_DB, "min_idle");
    const txs_conf_key_t *pool_size = txs_conf_key_find(TXS_CS_DB, "pool_size");
    assert(ld->conf->ndbs == 0 || ld->meta != NULL); /* grown with dbs */
    for (int i = 0; i < ld->conf->ndbs && !ld->failed; i++) {
        const txs_db_conf_t *db = &ld->conf->dbs[i];
        if (db->min_idle <= db->pool_size)
            continue;
        char here[300], there[300], what[400], from[400];
        /* min_idle is never the built-in 0 here: pool_size is at least 1. */
        origin_t m = db_key_origin(ld, i, min_idle, here, sizeof here);
        if (m == FROM_TXSCOPE)
            snprintf(what, sizeof what, "[txscope] min_idle = %d, the default of [db.%s],",
                     db->min_idle, db->name);
        else
            snprintf(what, sizeof what, "[db.%s] min_idle = %d", db->name, db->min_idle);
        origin_t p = db_key_origin(ld, i, pool_size, there, sizeof there);
        if (p == BUILT_IN)
            snprintf(from, sizeof from, "the built-in default");
        else if (p == FROM_TXSCOPE && !ld->key_env[pool_size - txs_conf_keys])
            snprintf(from, sizeof from, "%s under [txscope]", there);
        else
            snprintf(from, sizeof from, "%s", there);
        fail(ld,
             "%s: %s is more than its pool_size = %d (%s): min_idle is how many connections "
             "the pool keeps open, at most pool_size; lower min_idle or raise pool_size",
             here, what, db->pool_size, from);
    }
}

/* After the file and the environment: what must be there is there. */
static void check_complete(loader_t *ld)
{
    txs_conf_t *c = ld->conf;
    if (c->ndbs == 0) {
        fail(ld,
             "no database configured: set TXSCOPE_DB_MAIN_DSN "
             "(e.g. postgresql://USER@HOST:5432/DBNAME) or add a [db.NAME] section with a "
             "dsn%s%s",
             c->source ? " to " : "", c->source ? c->source : "");
        return;
    }
    assert(ld->meta != NULL); /* grown with dbs: one entry per db */
    for (int i = 0; i < c->ndbs && !ld->failed; i++) {
        for (size_t j = 0; j < TXS_CONF_NKEYS; j++) {
            const txs_conf_key_t *k = &txs_conf_keys[j];
            if (k->section != TXS_CS_DB || !k->required ||
                *(char **)((char *)&c->dbs[i] + k->offset) != NULL)
                continue;
            char uname[TXS_CONF_NAME_MAX + 1], ukey[64];
            upper_copy(c->dbs[i].name, uname, sizeof uname);
            upper_copy(k->info.name, ukey, sizeof ukey);
            if (ld->meta[i].line)
                fail(ld, "%s:%d: [db.%s] has no %s: add %s = ... to it, or set TXSCOPE_DB_%s_%s",
                     ld->path, ld->meta[i].line, c->dbs[i].name, k->info.name, k->info.name, uname,
                     ukey);
            else
                fail(ld, "%s creates db \"%s\", which has no %s: set TXSCOPE_DB_%s_%s too",
                     ld->meta[i].var, c->dbs[i].name, k->info.name, uname, ukey);
            break;
        }
    }
}

/* Where token i (or auth_token, i < 0) was set: "t.ini:3" or the variable. */
static void token_origin(const loader_t *ld, int i, char *buf, size_t len)
{
    if (i < 0) {
        const txs_conf_key_t *k = txs_conf_key_find(TXS_CS_TXSCOPE, "auth_token");
        size_t idx = (size_t)(k - txs_conf_keys);
        if (ld->key_env[idx])
            snprintf(buf, len, ENV_PREFIX "AUTH_TOKEN");
        else
            snprintf(buf, len, "%s:%d", ld->path, ld->key_line[idx]);
    } else if (ld->tmeta[i].var) {
        snprintf(buf, len, "%s", ld->tmeta[i].var);
    } else {
        snprintf(buf, len, "%s:%d", ld->path, ld->tmeta[i].line);
    }
}

/* After the file and the environment: names and secrets are distinct, auth_token included
 * (a secret shared by two principals would make hello ambiguous); then auth_token goes in
 * front as "default". */
static void finish_tokens(loader_t *ld)
{
    txs_conf_t *c = ld->conf;
    char here[300], there[300];
    for (int i = 0; i < c->ntokens && !ld->failed; i++) {
        const txs_token_conf_t *t = &c->tokens[i];
        token_origin(ld, i, here, sizeof here);
        if (c->auth_token && strcmp(t->name, TXS_DEFAULT_PRINCIPAL) == 0) {
            token_origin(ld, -1, there, sizeof there);
            fail(ld,
                 "%s: [tokens] %s: auth_token (%s) is already the token of the principal %s; "
                 "set one of the two",
                 here, t->name, there, t->name);
        } else if (c->auth_token && strcmp(t->secret, c->auth_token) == 0) {
            token_origin(ld, -1, there, sizeof there);
            fail(ld,
                 "%s: [tokens] %s: the same secret as auth_token (%s); every principal needs "
                 "its own",
                 here, t->name, there);
        }
        for (int j = 0; j < i && !ld->failed; j++) {
            if (strcmp(t->secret, c->tokens[j].secret) != 0)
                continue;
            token_origin(ld, j, there, sizeof there);
            fail(ld,
                 "%s: [tokens] %s: the same secret as [tokens] %s (%s); every principal needs "
                 "its own",
                 here, t->name, c->tokens[j].name, there);
        }
    }
    if (ld->failed || !c->auth_token)
        return;
    c->tokens = txs_xrealloc(c->tokens, (size_t)(c->ntokens + 1) * sizeof *c->tokens);
    memmove(&c->tokens[1], &c->tokens[0], (size_t)c->ntokens * sizeof *c->tokens);
    memset(&c->tokens[0], 0, sizeof c->tokens[0]);
    snprintf(c->tokens[0].name, sizeof c->tokens[0].name, "%s", TXS_DEFAULT_PRINCIPAL);
    c->tokens[0].secret = txs_xstrdup(c->auth_token);
    c->ntokens++;
}

int txs_conf_load(const char *path, char *const *envp, txs_conf_t **out, char *errbuf,
                  size_t errlen)
{
    loader_t ld = {.path = path, .err = errbuf, .errlen = errlen};
    *out = NULL;
    if (errbuf && errlen > 0)
        errbuf[0] = '\0';
    ld.conf = txs_xcalloc(1, sizeof *ld.conf);
    txs_conf_keys_apply_defaults(TXS_CS_TXSCOPE, ld.conf);
    if (path) {
        ld.conf->source = txs_xstrdup(path);
        parse_file(&ld, path);
    }
    if (!ld.failed)
        apply_env(&ld, envp);
    if (!ld.failed)
        apply_txscope_defaults(&ld);
    if (!ld.failed)
        check_complete(&ld);
    if (!ld.failed)
        check_pools(&ld);
    int named = ld.conf->ntokens; /* tmeta's length, before auth_token joins the tokens */
    if (!ld.failed)
        finish_tokens(&ld);
    for (int i = 0; i < ld.conf->ndbs; i++)
        free(ld.meta[i].var);
    free(ld.meta);
    for (int i = 0; i < named; i++)
        free(ld.tmeta[i].var);
    free(ld.tmeta);
    free(ld.text);
    txs_conf_keys_free_strings(TXS_CS_DB, &ld.dflt);
    if (ld.failed) {
        txs_conf_free(ld.conf);
        return TXS_ECONFIG;
    }
    *out = ld.conf;
    return 0;
}

void txs_conf_free(txs_conf_t *conf)
{
    if (!conf)
        return;
    for (int i = 0; i < conf->ndbs; i++)
        txs_conf_keys_free_strings(TXS_CS_DB, &conf->dbs[i]);
    free(conf->dbs);
    for (int i = 0; i < conf->ntokens; i++)
        free(conf->tokens[i].secret);
    free(conf->tokens);
    txs_conf_keys_free_strings(TXS_CS_TXSCOPE, conf);
    free(conf->source);
    free(conf);
}

const txs_db_conf_t *txs_conf_find_db(const txs_conf_t *conf, const char *name)
{
    int i = find_db(conf, name);
    return i < 0 ? NULL : &conf->dbs[i];
}
