/* conn.c - libtxscope's connection: connect, line framing, send, recv and wait. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clients/c/libtxscope/internal.h"

#define READ_CHUNK 16384

/* A reply read while txscope_wait looked for another one, kept with its line. */
typedef struct stashed {
    cJSON *json;
    char *line;
} stashed_t;

struct txscope_conn {
    int fd;
    bool eof;
    int64_t next_id;
    /* Unread bytes are rbuf[rpos, rlen); the first `scanned` of them hold no '\n'. */
    char *rbuf;
    size_t rpos, rlen, rcap, scanned;
    /* Replies waiting for txscope_recv/txscope_wait, oldest first. */
    stashed_t *stash;
    size_t nstash, stash_cap;
    char *last_line;
    /* The stashed line txscope_recv_line handed out last (freed on its next call). */
    char *raw_line;
    int last_error;
    char errmsg[256];
};

int txscope__fail(txscope_conn_t *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    c->last_error = code;
    return code;
}

static void clear_error(txscope_conn_t *c)
{
    c->last_error = TXSCOPE_OK;
    c->errmsg[0] = '\0';
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A deadline of -1 means never. */
static int64_t deadline_after(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

static int remaining_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - now_ms();
    return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/* ---- connecting ---- */

bool txscope_split_address(const char *address, const char *default_port, char *host,
                           size_t hostlen, char *port, size_t portlen)
{
    const char *h = address, *p = NULL;
    size_t hlen;
    if (address[0] == '[') {
        const char *rb = strchr(address, ']');
        if (rb == NULL || (rb[1] != '\0' && rb[1] != ':'))
            return false;
        h = address + 1;
        hlen = (size_t)(rb - h);
        if (rb[1] == ':')
            p = rb + 2;
    } else {
        const char *colon = strchr(address, ':');
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            hlen = (size_t)(colon - address);
            p = colon + 1;
        } else {
            hlen = strlen(address); /* no port, or a bare IPv6 address */
        }
    }
    if (p == NULL)
        p = default_port;
    if (hlen == 0 || hlen >= hostlen || strlen(p) >= portlen || *p == '\0')
        return false;
    char *end;
    long num = strtol(p, &end, 10);
    if (*end != '\0' || num < 1 || num > 65535)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, portlen, "%ld", num);
    return true;
}

static bool set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

static int connect_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        set_err(err, errlen, "unix socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* A unix connect completes or fails at once, so it needs no timeout. */
    int rc;
    do
        rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    while (rc < 0 && errno == EINTR);
    if (rc < 0 || !set_nonblocking(fd)) {
        set_err(err, errlen, "could not connect to %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Tries one resolved address until deadline. Returns the socket or -1 (errno set). */
static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r;
        do
            r = poll(&p, 1, remaining_ms(deadline));
        while (r < 0 && errno == EINTR);
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (r == 0)
            soerr = ETIMEDOUT;
        else if (r < 0)
            soerr = errno;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (soerr != 0) {
            close(fd);
            errno = soerr;
            return -1;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int txscope_connect_tcp(const char *address, const char *default_port, int timeout_ms, char *err,
                        size_t errlen)
{
    char host[256], port[16];
    if (!txscope_split_address(address, default_port, host, sizeof host, port, sizeof port)) {
        set_err(err, errlen, "bad address \"%s\" (want host:port, [v6addr]:port or /path)",
                address);
        return -1;
    }
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        set_err(err, errlen, "could not resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int64_t deadline = deadline_after(timeout_ms);
    int fd = -1, last_errno = 0;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = connect_one(ai, deadline);
        if (fd < 0)
            last_errno = errno;
        if (fd < 0 && remaining_ms(deadline) == 0)
            break;
    }
    freeaddrinfo(res);
    if (fd < 0)
        set_err(err, errlen, "could not connect to %s: %s", address,
                last_errno == ETIMEDOUT ? "timed out" : strerror(last_errno));
    return fd;
}

txscope_conn_t *txscope_connect(const char *address, int timeout_ms, char *err, size_t errlen)
{
    if (address == NULL || *address == '\0')
        address = TXSCOPE_DEFAULT_ADDRESS;
    int fd = address[0] == '/' ? connect_unix(address, err, errlen)
                               : txscope_connect_tcp(address, "7432", timeout_ms, err, errlen);
    if (fd < 0)
        return NULL;
    txscope_conn_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    c->fd = fd;
    c->next_id = 1;
    return c;
}

void txscope_close(txscope_conn_t *c)
{
    if (c == NULL)
        return;
    close(c->fd);
    for (size_t i = 0; i < c->nstash; i++) {
        cJSON_Delete(c->stash[i].json);
        free(c->stash[i].line);
    }
    free(c->stash);
    free(c->rbuf);
    free(c->last_line);
    free(c->raw_line);
    free(c);
}

int txscope_fd(txscope_conn_t *c)
{
    return c->fd;
}

const char *txscope_errmsg(txscope_conn_t *c)
{
    return c == NULL ? "no connection" : c->errmsg;
}

int txscope_last_error(txscope_conn_t *c)
{
    return c == NULL ? TXSCOPE_EINVAL : c->last_error;
}

bool txscope_eof(txscope_conn_t *c)
{
    return c->eof;
}

const char *txscope_last_line(txscope_conn_t *c)
{
    return c->last_line != NULL ? c->last_line : "";
}

/* ---- reading ---- */

/* Reads what the socket has into rbuf. Returns 1 when bytes came, 0 when none were
 * ready, or a TXSCOPE_E* code (TXSCOPE_EEOF once the daemon closed). */
static int read_some(txscope_conn_t *c)
{
    if (c->rpos > 0 && (c->rpos == c->rlen || c->rcap - c->rlen < READ_CHUNK / 4)) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rcap - c->rlen < READ_CHUNK / 4) {
        size_t cap = c->rcap == 0 ? READ_CHUNK : c->rcap * 2;
        char *nb = realloc(c->rbuf, cap);
        if (nb == NULL)
            return txscope__fail(c, TXSCOPE_ENOMEM, "out of memory reading a reply");
        c->rbuf = nb;
        c->rcap = cap;
    }
    for (;;) {
        ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (n > 0) {
            c->rlen += (size_t)n;
            return 1;
        }
        if (n == 0) {
            c->eof = true;
            return txscope__fail(c, TXSCOPE_EEOF, "the daemon closed the connection");
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno == ECONNRESET) {
            c->eof = true;
            return txscope__fail(c, TXSCOPE_EEOF, "the daemon reset the connection");
        }
        return txscope__fail(c, TXSCOPE_EIO, "read: %s", strerror(errno));
    }
}

/* Waits until the socket is readable (or deadline) and reads. Returns 0 or a code. */
static int fill(txscope_conn_t *c, int64_t deadline, int timeout_ms)
{
    if (c->eof)
        return txscope__fail(c, TXSCOPE_EEOF, "the daemon closed the connection");
    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int r = poll(&p, 1, remaining_ms(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return txscope__fail(c, TXSCOPE_EIO, "poll: %s", strerror(errno));
        if (r == 0)
            return txscope__fail(c, TXSCOPE_ETIMEDOUT, "no reply within %d ms", timeout_ms);
        int rc = read_some(c);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
}

/* Finds the next complete line; on success *line points into rbuf (NUL-terminated, line
 * ending removed, valid until the next read) and its bytes are consumed. With one_read,
 * never polls: at most one read() is tried, and TXSCOPE_ETIMEDOUT is returned when it
 * did not complete a line. */
static int next_line(txscope_conn_t *c, int64_t deadline, int timeout_ms, bool one_read,
                     char **line, size_t *len)
{
    bool tried = false;
    for (;;) {
        char *start = c->rbuf + c->rpos;
        char *nl = c->rlen > c->rpos + c->scanned
                       ? memchr(start + c->scanned, '\n', c->rlen - c->rpos - c->scanned)
                       : NULL;
        if (nl != NULL) {
            size_t n = (size_t)(nl - start);
            c->rpos += n + 1;
            c->scanned = 0;
            if (n > 0 && start[n - 1] == '\r')
                n--;
            start[n] = '\0';
            *line = start;
            *len = n;
            return 0;
        }
        c->scanned = c->rlen - c->rpos;
        int rc;
        if (!one_read) {
            rc = fill(c, deadline, timeout_ms);
        } else if (tried) {
            rc = TXSCOPE_ETIMEDOUT;
        } else if (c->eof) {
            rc = txscope__fail(c, TXSCOPE_EEOF, "the daemon closed the connection");
        } else {
            tried = true;
            rc = read_some(c);
            rc = rc > 0 ? 0 : rc == 0 ? TXSCOPE_ETIMEDOUT : rc;
        }
        if (rc == TXSCOPE_ETIMEDOUT && one_read) {
            /* The common end of an event loop's read pass: no formatting here. */
            c->last_error = TXSCOPE_ETIMEDOUT;
            memcpy(c->errmsg, "no complete line yet", sizeof "no complete line yet");
            return rc;
        }
        if (rc == TXSCOPE_EEOF && c->rlen > c->rpos)
            txscope__fail(c, rc, "the daemon closed the connection in the middle of a line");
        if (rc != 0)
            return rc;
    }
}

/* Reads and parses the next line from the socket into a stashed_t (not yet stashed). */
static int read_reply(txscope_conn_t *c, int64_t deadline, int timeout_ms, stashed_t *out)
{
    *out = (stashed_t){NULL, NULL};
    char *line = NULL;
    size_t len = 0;
    int rc = next_line(c, deadline, timeout_ms, false, &line, &len);
    if (rc != 0)
        return rc;
    const char *end = NULL;
    cJSON *json = strlen(line) == len ? cJSON_ParseWithOpts(line, &end, 1) : NULL;
    if (json == NULL || !cJSON_IsObject(json)) {
        cJSON_Delete(json);
        return txscope__fail(c, TXSCOPE_EPROTO,
                             "the daemon sent a line that is not a JSON "
                             "object: %.80s",
                             line);
    }
    txscope__keep_number_text(json, line);
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        cJSON_Delete(json);
        return txscope__fail(c, TXSCOPE_ENOMEM, "out of memory reading a reply");
    }
    memcpy(copy, line, len + 1);
    out->json = json;
    out->line = copy;
    return 0;
}

/* Hands a reply to the caller: it becomes the last line. */
static cJSON *deliver(txscope_conn_t *c, stashed_t s)
{
    free(c->last_line);
    c->last_line = s.line;
    return s.json;
}

static void unstash(txscope_conn_t *c, size_t i)
{
    memmove(&c->stash[i], &c->stash[i + 1], (c->nstash - i - 1) * sizeof c->stash[0]);
    c->nstash--;
}

cJSON *txscope_recv(txscope_conn_t *c, int timeout_ms)
{
    clear_error(c);
    if (c->nstash > 0) {
        stashed_t s = c->stash[0];
        unstash(c, 0);
        return deliver(c, s);
    }
    stashed_t s;
    if (read_reply(c, deadline_after(timeout_ms), timeout_ms, &s) != 0)
        return NULL;
    return deliver(c, s);
}

int txscope_recv_line(txscope_conn_t *c, int timeout_ms, const char **line, size_t *len)
{
    clear_error(c);
    free(c->raw_line);
    c->raw_line = NULL;
    if (c->nstash > 0) {
        stashed_t s = c->stash[0];
        unstash(c, 0);
        cJSON_Delete(s.json);
        c->raw_line = s.line;
        *line = s.line;
        *len = strlen(s.line);
        return 0;
    }
    char *l = NULL;
    size_t n = 0;
    int rc = next_line(c, timeout_ms == 0 ? 0 : deadline_after(timeout_ms), timeout_ms,
                       timeout_ms == 0, &l, &n);
    if (rc != 0)
        return rc;
    *line = l;
    *len = n;
    return 0;
}

static bool id_matches(const cJSON *reply, const cJSON *want)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(reply, "id");
    if (id == NULL)
        return false;
    const char *text = cJSON_GetStringValue(want);
    if (text != NULL)
        return cJSON_IsString(id) && strcmp(id->valuestring, text) == 0;
    int64_t a, b;
    return txscope_get_int64(id, &a) && txscope_get_int64(want, &b) && a == b;
}

cJSON *txscope__wait_for(txscope_conn_t *c, const cJSON *id, int timeout_ms)
{
    clear_error(c);
    for (size_t i = 0; i < c->nstash; i++) {
        if (id_matches(c->stash[i].json, id)) {
            stashed_t s = c->stash[i];
            unstash(c, i);
            return deliver(c, s);
        }
    }
    int64_t deadline = deadline_after(timeout_ms);
    for (;;) {
        stashed_t s;
        if (read_reply(c, deadline, timeout_ms, &s) != 0)
            return NULL;
        if (id_matches(s.json, id))
            return deliver(c, s);
        if (c->nstash == c->stash_cap) {
            size_t cap = c->stash_cap == 0 ? 16 : c->stash_cap * 2;
            stashed_t *ns = realloc(c->stash, cap * sizeof *ns);
            if (ns == NULL) {
                cJSON_Delete(s.json);
                free(s.line);
                txscope__fail(c, TXSCOPE_ENOMEM, "out of memory stashing a reply");
                return NULL;
            }
            c->stash = ns;
            c->stash_cap = cap;
        }
        c->stash[c->nstash++] = s;
    }
}

cJSON *txscope_wait(txscope_conn_t *c, int64_t id, int timeout_ms)
{
    cJSON *want = cJSON_CreateNumber((double)id);
    if (want == NULL) {
        txscope__fail(c, TXSCOPE_ENOMEM, "out of memory");
        return NULL;
    }
    /* Give it its exact text so that ids beyond 2^53 still match. */
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)id);
    want->valuestring = cJSON_malloc(strlen(text) + 1);
    if (want->valuestring != NULL)
        strcpy(want->valuestring, text);
    cJSON *r = txscope__wait_for(c, want, timeout_ms);
    cJSON_Delete(want);
    return r;
}

/* ---- writing ---- */

/* Writes every byte of iov. While the socket is full, reads what the daemon sends into
 * rbuf, so that a client pipelining more than the daemon buffers cannot deadlock. */
static int write_all(txscope_conn_t *c, struct iovec *iov, int iovcnt)
{
    while (iovcnt > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd p = {.fd = c->fd, .events = POLLOUT | (c->eof ? 0 : POLLIN)};
                if (poll(&p, 1, -1) < 0 && errno != EINTR)
                    return txscope__fail(c, TXSCOPE_EIO, "poll: %s", strerror(errno));
                if (p.revents & POLLIN) {
                    int rc = read_some(c);
                    if (rc < 0 && rc != TXSCOPE_EEOF)
                        return rc;
                }
                continue;
            }
            if (errno == EPIPE || errno == ECONNRESET) {
                c->eof = true;
                return txscope__fail(c, TXSCOPE_EEOF, "the daemon closed the connection");
            }
            return txscope__fail(c, TXSCOPE_EIO, "write: %s", strerror(errno));
        }
        size_t done = (size_t)n;
        while (iovcnt > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

int txscope_send_raw(txscope_conn_t *c, const void *bytes, size_t len)
{
    clear_error(c);
    struct iovec iov = {.iov_base = (void *)bytes, .iov_len = len};
    return write_all(c, &iov, len > 0 ? 1 : 0);
}

int txscope_send(txscope_conn_t *c, cJSON *req, int64_t *id_out)
{
    clear_error(c);
    if (!cJSON_IsObject(req))
        return txscope__fail(c, TXSCOPE_EINVAL, "a request must be a JSON object");
    int64_t id = -1;
    cJSON *item = cJSON_GetObjectItemCaseSensitive(req, "id");
    if (item == NULL) {
        id = c->next_id++;
        if (cJSON_AddNumberToObject(req, "id", (double)id) == NULL)
            return txscope__fail(c, TXSCOPE_ENOMEM, "out of memory");
    } else if (txscope_get_int64(item, &id)) {
        if (id >= c->next_id)
            c->next_id = id + 1;
    } else {
        id = -1;
    }
    char *text = txscope__print(req);
    if (text == NULL)
        return txscope__fail(c, TXSCOPE_ENOMEM, "out of memory printing a request");
    struct iovec iov[2] = {{.iov_base = text, .iov_len = strlen(text)},
                           {.iov_base = "\n", .iov_len = 1}};
    int rc = write_all(c, iov, 2);
    cJSON_free(text);
    if (rc == 0 && id_out != NULL)
        *id_out = id;
    return rc;
}
