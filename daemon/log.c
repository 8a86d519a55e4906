/* log.c - timestamped log lines to stderr, as text or one JSON object per line. */
#include "daemon/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "protocol/buf.h"
#include "protocol/mask.h"
#include "protocol/reply.h"
#include "protocol/utf8.h"

txs_log_level_t txs_log_max_level = TXS_LOG_INFO;
static txs_log_format_t log_format = TXS_LOG_TEXT;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const level_names_json[] = {"error", "warn", "info", "debug"};

void txs_log_set_level(txs_log_level_t level)
{
    txs_log_max_level = level;
}

void txs_log_set_format(txs_log_format_t format)
{
    log_format = format;
}

/* A JSON string of s[0..len), each byte that is not UTF-8 replaced with U+FFFD, so
 * that the line parses whatever a driver's message held. */
static void put_json_utf8(txs_buf_t *b, const char *s, size_t len)
{
    if (txs_utf8_valid(s, len)) {
        txs_json_put_string(b, s, len);
        return;
    }
    txs_buf_t clean = TXS_BUF_INIT;
    for (size_t i = 0; i < len;) {
        size_t n = txs_utf8_seq_len(s + i, len - i);
        if (n) {
            txs_buf_append(&clean, s + i, n);
            i += n;
        } else {
            txs_buf_puts(&clean, "\xEF\xBF\xBD");
            i++;
        }
    }
    txs_json_put_string(b, clean.data, clean.len);
    txs_buf_free(&clean);
}

/* A text field's value goes bare when it is one plain word, else in quotes, so that
 * `key=value` stays splittable whatever a client put in its ctx. */
static void put_text_value(txs_buf_t *b, const char *v)
{
    bool plain = *v != '\0';
    for (const char *p = v; *p && plain; p++) {
        unsigned char ch = (unsigned char)*p;
        plain = ch > ' ' && ch < 0x7f && ch != '"' && ch != '=' && ch != '\\';
    }
    if (plain)
        txs_buf_puts(b, v);
    else
        txs_json_put_string(b, v, strlen(v));
}

static void put_who_text(txs_buf_t *b, const txs_log_who_t *w)
{
    size_t start = b->len;
    if (w->client) {
        txs_buf_puts(b, "client=");
        txs_buf_put_int(b, (long long)w->client);
        txs_buf_putc(b, ' ');
    }
    const char *keys[] = {"peer=", "db=", "ctx="};
    const char *vals[] = {w->peer, w->db, w->ctx};
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        txs_buf_puts(b, keys[i]);
        put_text_value(b, vals[i]);
        txs_buf_putc(b, ' ');
    }
    if (w->backend) {
        txs_buf_puts(b, "backend=");
        txs_buf_put_int(b, (long long)w->backend);
        txs_buf_putc(b, ' ');
    }
    if (b->len > start) {
        b->len--; /* the last blank */
        txs_buf_puts(b, ": ");
    }
}

static void put_who_json(txs_buf_t *b, const txs_log_who_t *w)
{
    if (w->client) {
        txs_buf_puts(b, ",\"client\":");
        txs_buf_put_int(b, (long long)w->client);
    }
    const char *keys[] = {",\"peer\":", ",\"db\":", ",\"ctx\":"};
    const char *vals[] = {w->peer, w->db, w->ctx};
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        txs_buf_puts(b, keys[i]);
        put_json_utf8(b, vals[i], strlen(vals[i]));
    }
    if (w->backend) {
        txs_buf_puts(b, ",\"backend\":");
        txs_buf_put_int(b, (long long)w->backend);
    }
}

/* A message of more bytes is cut (at a character) and ends in "...". */
#define MSG_MAX 4096

/* The message as text: one line, whatever it holds. Control bytes and bytes that are
 * not UTF-8 are written as escapes (\n, \t, \xNN). */
static void put_msg_text(txs_buf_t *b, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c >= 0x20 && c != 0x7f ? txs_utf8_seq_len(s + i, len - i) : 0;
        if (n) {
            txs_buf_append(b, s + i, n);
            i += n;
            continue;
        }
        if (c == '\n')
            txs_buf_puts(b, "\\n");
        else if (c == '\r')
            txs_buf_puts(b, "\\r");
        else if (c == '\t')
            txs_buf_puts(b, "\\t");
        else
            txs_buf_printf(b, "\\x%02x", c);
        i++;
    }
}

static void write_line(txs_log_level_t level, const txs_log_who_t *who, const char *fmt, va_list ap)
{
    /* Formatted in full, then masked, then cut: a cut before masking could leave a
     * secret's start that the mask no longer recognizes. */
    txs_buf_t raw = TXS_BUF_INIT, msg = TXS_BUF_INIT;
    txs_buf_vprintf(&raw, fmt, ap);
    txs_mask_append(&msg, raw.data ? raw.data : "", raw.len);
    txs_buf_free(&raw);
    if (msg.len > MSG_MAX) {
        size_t n = MSG_MAX;
        while (n > 0 && ((unsigned char)msg.data[n] & 0xC0) == 0x80)
            n--;
        msg.len = n;
        txs_buf_puts(&msg, "...");
    }
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    char ts[64];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
    txs_buf_t b;
    txs_buf_init(&b);
    if (log_format == TXS_LOG_JSON) {
        txs_buf_puts(&b, "{\"ts\":\"");
        txs_buf_puts(&b, ts);
        txs_buf_puts(&b, "\",\"level\":\"");
        txs_buf_puts(&b, level_names_json[level]);
        txs_buf_putc(&b, '"');
        if (who)
            put_who_json(&b, who);
        txs_buf_puts(&b, ",\"msg\":");
        put_json_utf8(&b, msg.data ? msg.data : "", msg.len);
        txs_buf_putc(&b, '}');
    } else {
        txs_buf_puts(&b, ts);
        txs_buf_putc(&b, ' ');
        txs_buf_puts(&b, level_names[level]);
        txs_buf_putc(&b, ' ');
        if (who)
            put_who_text(&b, who);
        put_msg_text(&b, msg.data ? msg.data : "", msg.len);
    }
    txs_buf_putc(&b, '\n');
    /* One write per line keeps lines whole when several processes share stderr. */
    fwrite(b.data, 1, b.len, stderr);
    txs_buf_free(&b);
    txs_buf_free(&msg);
}

void txs_log_write(txs_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    write_line(level, NULL, fmt, ap);
    va_end(ap);
}

void txs_log_write_who(txs_log_level_t level, const txs_log_who_t *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    write_line(level, who, fmt, ap);
    va_end(ap);
}

void txs_log_write_for(txs_log_level_t level, txs_log_who_t who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    write_line(level, &who, fmt, ap);
    va_end(ap);
}
