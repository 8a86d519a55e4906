/* units.c - durations ("30s") and sizes ("64MB") in config values: parse and print. */
#include "conf/config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "protocol/errors.h"

typedef struct unit {
    const char *name;
    uint64_t factor;
} unit_t;

/* A bare number of seconds is the "" row. */
static const unit_t duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
};

/* 1024-based whatever the spelling, as PostgreSQL reads kB/MB/GB. */
static const unit_t size_units[] = {
    {"", 1},
    {"B", 1},
    {"kB", 1ULL << 10},
    {"KB", 1ULL << 10},
    {"KiB", 1ULL << 10},
    {"MB", 1ULL << 20},
    {"MiB", 1ULL << 20},
    {"GB", 1ULL << 30},
    {"GiB", 1ULL << 30},
    {"TB", 1ULL << 40},
    {"TiB", 1ULL << 40},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Digits into *out; returns the end, or NULL when there is no digit or it overflows. */
static const char *parse_digits(const char *p, uint64_t *out)
{
    uint64_t v = 0;
    if (!is_digit(*p))
        return NULL;
    for (; is_digit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NULL;
        v = v * 10 + d;
    }
    *out = v;
    return p;
}

/* The unit spelled exactly `p` (after optional spaces), or NULL. */
static const unit_t *find_unit(const char *p, const unit_t *units, size_t n)
{
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < n; i++)
        if (strcmp(p, units[i].name) == 0)
            return &units[i];
    return NULL;
}

int txs_conf_parse_duration_ms(const char *s, uint64_t *out_ms)
{
    static const uint64_t pow10[] = {1,      10,      100,      1000,      10000,
                                     100000, 1000000, 10000000, 100000000, 1000000000};
    uint64_t whole, frac = 0;
    unsigned ndigits = 0;
    const char *p = parse_digits(s, &whole);
    if (!p)
        return TXS_EINVAL;
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return TXS_EINVAL;
        /* Nine digits are finer than any unit's millisecond; more must be zeros. */
        for (; is_digit(*p); p++) {
            if (ndigits < 9) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                ndigits++;
            } else if (*p != '0') {
                return TXS_EINVAL;
            }
        }
    }
    const unit_t *u = find_unit(p, duration_units, sizeof duration_units / sizeof *duration_units);
    if (!u)
        return TXS_EINVAL;
    if (whole > UINT64_MAX / u->factor)
        return TXS_EINVAL;
    uint64_t ms = whole * u->factor;
    /* frac < 10^9 and factor < 10^8: the product fits. Refuse what is finer than 1 ms
     * rather than round it silently. */
    uint64_t part = frac * u->factor;
    if (part % pow10[ndigits] != 0)
        return TXS_EINVAL;
    part /= pow10[ndigits];
    if (ms > UINT64_MAX - part)
        return TXS_EINVAL;
    *out_ms = ms + part;
    return 0;
}

int txs_conf_parse_size(const char *s, size_t *out)
{
    uint64_t n;
    const char *p = parse_digits(s, &n);
    if (!p)
        return TXS_EINVAL;
    const unit_t *u = find_unit(p, size_units, sizeof size_units / sizeof *size_units);
    if (!u || n > UINT64_MAX / u->factor || n * u->factor > SIZE_MAX)
        return TXS_EINVAL;
    *out = (size_t)(n * u->factor);
    return 0;
}

void txs_conf_format_duration(uint64_t ms, char *buf, size_t len)
{
    /* Largest unit that divides exactly, so the text reads back to the same value. */
    static const unit_t by_size[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    const char *unit = "ms";
    uint64_t v = ms;
    for (size_t i = 0; ms != 0 && i < sizeof by_size / sizeof *by_size; i++) {
        if (ms % by_size[i].factor == 0) {
            unit = by_size[i].name;
            v = ms / by_size[i].factor;
            break;
        }
    }
    snprintf(buf, len, "%" PRIu64 "%s", v, ms == 0 ? "" : unit);
}

void txs_conf_format_size(uint64_t bytes, char *buf, size_t len)
{
    static const unit_t by_size[] = {
        {"TB", 1ULL << 40}, {"GB", 1ULL << 30}, {"MB", 1ULL << 20}, {"kB", 1ULL << 10}};
    const char *unit = "B";
    uint64_t v = bytes;
    for (size_t i = 0; bytes != 0 && i < sizeof by_size / sizeof *by_size; i++) {
        if (bytes % by_size[i].factor == 0) {
            unit = by_size[i].name;
            v = bytes / by_size[i].factor;
            break;
        }
    }
    snprintf(buf, len, "%" PRIu64 "%s", v, unit);
}
