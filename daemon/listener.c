/* listener.c - the listening TCP socket and the optional unix socket. */
#include "daemon/server.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/log.h"
#include "protocol/errors.h"

#define BACKLOG 511

static void on_tcp_connection(uv_stream_t *l, int status)
{
    txs_server_t *s = l->data;
    if (status < 0) {
        txs_log_warn("accept: %s", uv_strerror(status));
        return;
    }
    txs_client_accept(s, l, false);
}

static void on_unix_connection(uv_stream_t *l, int status)
{
    txs_server_t *s = l->data;
    if (status < 0) {
        txs_log_warn("accept (unix): %s", uv_strerror(status));
        return;
    }
    txs_client_accept(s, l, true);
}

int txs_listen_tcp(uv_tcp_t *tcp, const char *key, const char *host, int port, int backlog,
                   uv_connection_cb on_connection)
{
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc < 0)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
    if (rc < 0) {
        txs_log_error("%s: \"%s\" is not an IP address", key, host);
        return TXS_ECONFIG;
    }
    rc = uv_tcp_bind(tcp, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)tcp, backlog, on_connection);
    if (rc < 0) {
        txs_log_error("%s on %s:%d: %s", key, host, port, uv_strerror(rc));
        return TXS_EIO;
    }
    return TXS_OK;
}

static int listen_tcp(txs_server_t *s)
{
    const txs_conf_t *conf = s->conf;
    uv_tcp_init(s->loop, &s->tcp);
    s->tcp.data = s;
    s->tcp_open = true;
    int rc = txs_listen_tcp(&s->tcp, "listen", conf->listen_host, conf->listen_port, BACKLOG,
                            on_tcp_connection);
    if (rc == TXS_OK)
        txs_log_info("listening on %s:%d", conf->listen_host, conf->listen_port);
    return rc;
}

static int listen_unix(txs_server_t *s)
{
    const char *path = s->conf->unix_socket;
    struct stat st;
    /* A socket left by a crashed daemon would make bind fail; remove only sockets. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    uv_pipe_init(s->loop, &s->unix_sock, 0);
    s->unix_sock.data = s;
    s->unix_open = true;
    int rc = uv_pipe_bind(&s->unix_sock, path);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->unix_sock, BACKLOG, on_unix_connection);
    if (rc < 0) {
        txs_log_error("listen on unix socket %s: %s", path, uv_strerror(rc));
        return TXS_EIO;
    }
    txs_log_info("listening on unix socket %s", path);
    return TXS_OK;
}

int txs_listener_start(txs_server_t *s)
{
    int rc = listen_tcp(s);
    if (rc == TXS_OK && s->conf->unix_socket)
        rc = listen_unix(s);
    return rc;
}

void txs_listener_stop(txs_server_t *s)
{
    if (s->tcp_open) {
        uv_close((uv_handle_t *)&s->tcp, NULL);
        s->tcp_open = false;
    }
    if (s->unix_open) {
        uv_close((uv_handle_t *)&s->unix_sock, NULL);
        s->unix_open = false;
        unlink(s->conf->unix_socket);
    }
}
