/* json.c - libtxscope's exact numbers: keep each number's text beside cJSON's double. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clients/c/libtxscope/internal.h"

/* Marks number items that txscope__print turned into raw items for the moment. */
#define FLIPPED (1 << 12)

/* Finds the next number token in text from *pos on, outside strings. */
static bool next_number(const char *text, size_t *pos, size_t *start, size_t *len)
{
    size_t i = *pos;
    while (text[i] != '\0') {
        char ch = text[i];
        if (ch == '"') {
            for (i++; text[i] != '\0' && text[i] != '"'; i++)
                if (text[i] == '\\' && text[i + 1] != '\0')
                    i++;
            if (text[i] != '\0')
                i++;
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
            size_t s = i;
            while (text[i] != '\0' && strchr("0123456789+-.eE", text[i]) != NULL)
                i++;
            *start = s;
            *len = i - s;
            *pos = i;
            return true;
        } else {
            i++;
        }
    }
    return false;
}

/* Walks the tree in document order, which is the order of the number tokens in text. */
static bool annotate(cJSON *item, const char *text, size_t *pos)
{
    for (; item != NULL; item = item->next) {
        if (cJSON_IsNumber(item)) {
            size_t s, n;
            if (!next_number(text, pos, &s, &n))
                return false;
            char *v = cJSON_malloc(n + 1);
            if (v == NULL)
                return false;
            memcpy(v, text + s, n);
            v[n] = '\0';
            cJSON_free(item->valuestring);
            item->valuestring = v;
        } else if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
            if (!annotate(item->child, text, pos))
                return false;
        }
    }
    return true;
}

void txscope__keep_number_text(cJSON *root, const char *text)
{
    size_t pos = 0;
    annotate(root, text, &pos);
}

static bool digits(const char **p)
{
    const char *s = *p;
    while (**p >= '0' && **p <= '9')
        (*p)++;
    return *p > s;
}

/* True when s is a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool is_json_number(const char *s)
{
    if (s == NULL)
        return false;
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s < '1' || *s > '9' || !digits(&s))
        return false;
    if (*s == '.') {
        s++;
        if (!digits(&s))
            return false;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!digits(&s))
            return false;
    }
    return *s == '\0';
}

static void flip(cJSON *item, bool to_raw)
{
    for (; item != NULL; item = item->next) {
        if (to_raw && cJSON_IsNumber(item) && is_json_number(item->valuestring))
            item->type = (item->type & ~0xFF) | cJSON_Raw | FLIPPED;
        else if (!to_raw && (item->type & FLIPPED))
            item->type = (item->type & ~0xFF & ~FLIPPED) | cJSON_Number;
        else if (cJSON_IsArray(item) || cJSON_IsObject(item))
            flip(item->child, to_raw);
    }
}

char *txscope__print(cJSON *item)
{
    /* cJSON prints a raw item's valuestring verbatim: numbers go out as they came in. */
    flip(item, true);
    char *text = cJSON_PrintUnformatted(item);
    flip(item, false);
    return text;
}

bool txscope_get_int64(const cJSON *item, int64_t *out)
{
    if (!cJSON_IsNumber(item))
        return false;
    if (item->valuestring != NULL) {
        const char *s = item->valuestring;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end != s && *end == '\0') {
            if (errno != 0)
                return false;
            *out = v;
            return true;
        }
        if (end == s || (*end != '.' && *end != 'e' && *end != 'E'))
            return false;
        /* "1.0", "1e3": the double decides. */
    }
    double d = item->valuedouble;
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
        return false;
    int64_t v = (int64_t)d;
    if ((double)v != d)
        return false;
    *out = v;
    return true;
}
