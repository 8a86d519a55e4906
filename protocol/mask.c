/* mask.c - DSN passwords and key=value secrets replaced with *** (see mask.h). */
#include "protocol/mask.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool is_ident(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static bool is_blank(char c)
{
    return isspace((unsigned char)c) != 0;
}

/* Does the key k[0..n) name a secret? */
static bool secret_key(const char *k, size_t n)
{
    static const char *const suffixes[] = {"password", "passwd", "secret", "token"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t sl = strlen(suffixes[i]);
        if (n >= sl && strncasecmp(k + n - sl, suffixes[i], sl) == 0)
            return true;
    }
    static const char env_token[] = "txscope_token_"; /* TXSCOPE_TOKEN_<NAME> */
    if (n > sizeof env_token - 1 && strncasecmp(k, env_token, sizeof env_token - 1) == 0)
        return true;
    return n == 3 && strncasecmp(k, "pwd", 3) == 0;
}

/* The last c in s[from..to), or `to` when none. */
static size_t last_of(const char *s, size_t from, size_t to, char c)
{
    for (size_t i = to; i > from; i--)
        if (s[i - 1] == c)
            return i - 1;
    return to;
}

/* At s[i] = "://" (len - i >= 3): where the URI's password starts and ends, or false. */
static bool uri_password(const char *s, size_t len, size_t i, size_t *start, size_t *end)
{
    size_t j = i + 3, word = j;
    while (word < len && !is_blank(s[word]) && s[word] != '"')
        word++;
    size_t auth_end = j;
    while (auth_end < word && s[auth_end] != '/' && s[auth_end] != '?' && s[auth_end] != '#')
        auth_end++;
    size_t at = last_of(s, j, auth_end, '@');
    if (at == auth_end)
        at = last_of(s, j, word, '@'); /* a password with an unencoded / ? or # */
    if (at == word)
        return false;
    const char *colon = memchr(s + j, ':', at - j);
    if (!colon || (size_t)(colon - s) + 1 == at)
        return false; /* no password, or an empty one */
    *start = (size_t)(colon - s) + 1;
    *end = at;
    return true;
}

/* At s[i], the start of a word key[i..k): if it is `key = value` with a secret key and a
 * non-empty value, where the value starts and ends. In a URI query (after ? or &) the
 * value runs to the next & or #; elsewhere it is read as libpq reads it. */
static bool keyword_secret(const char *s, size_t len, size_t i, size_t k, size_t *start,
                           size_t *end)
{
    if (!secret_key(s + i, k - i))
        return false;
    bool query = i > 0 && (s[i - 1] == '?' || s[i - 1] == '&');
    size_t p = k;
    while (!query && p < len && (s[p] == ' ' || s[p] == '\t'))
        p++;
    if (p >= len || s[p] != '=')
        return false;
    p++;
    while (!query && p < len && is_blank(s[p]))
        p++;
    size_t v = p;
    if (!query && p < len && (s[p] == '\'' || s[p] == '"')) {
        char q = s[p++];
        while (p < len && s[p] != q)
            p += s[p] == '\\' && p + 1 < len ? 2 : 1;
        if (p == v + 1)
            return false; /* '' */
        *start = v;
        *end = p < len ? p + 1 : len;
        return true;
    }
    while (p < len && !is_blank(s[p])) {
        if (query && (s[p] == '&' || s[p] == '#' || s[p] == '"'))
            break;
        p += !query && s[p] == '\\' && p + 1 < len ? 2 : 1;
    }
    if (p == v)
        return false;
    *start = v;
    *end = p;
    return true;
}

int txs_mask_append(txs_buf_t *b, const char *s, size_t len)
{
    int masked = 0;
    size_t done = 0; /* s[0..done) is in b */
    size_t i = 0;
    while (i < len) {
        size_t start, end;
        if (s[i] == ':' && len - i >= 3 && s[i + 1] == '/' && s[i + 2] == '/' && i > 0 &&
            isalnum((unsigned char)s[i - 1]) && uri_password(s, len, i, &start, &end)) {
            txs_buf_append(b, s + done, start - done);
            txs_buf_puts(b, TXS_MASK);
            masked++;
            done = i = end;
            continue;
        }
        if (is_ident(s[i]) && (i == 0 || !is_ident(s[i - 1]))) {
            size_t k = i;
            while (k < len && is_ident(s[k]))
                k++;
            if (keyword_secret(s, len, i, k, &start, &end)) {
                txs_buf_append(b, s + done, start - done);
                txs_buf_puts(b, TXS_MASK);
                masked++;
                done = i = end;
            } else {
                i = k;
            }
            continue;
        }
        i++;
    }
    txs_buf_append(b, s + done, len - done);
    return masked;
}

char *txs_mask_copy(char *out, size_t outlen, const char *text)
{
    txs_buf_t b = TXS_BUF_INIT;
    txs_mask_append(&b, text, strlen(text));
    size_t n = b.len;
    if (n > outlen - 1) {
        /* Not inside a UTF-8 sequence: while the first byte left out continues one,
         * leave out one more. */
        n = outlen - 1;
        while (n > 0 && ((unsigned char)b.data[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(out, b.data, n);
    out[n] = '\0';
    txs_buf_free(&b);
    return out;
}
