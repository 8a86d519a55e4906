/* signals.c - SIGTERM and SIGINT: roll back every open transaction and exit. */
#include "daemon/server.h"

#include <signal.h>

static void on_signal(uv_signal_t *h, int signum)
{
    txs_server_t *s = h->data;
    txs_server_shutdown(s, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

void txs_signals_start(txs_server_t *s)
{
    uv_signal_init(s->loop, &s->sigint);
    uv_signal_init(s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    /* Signal handlers alone must not keep the loop running. */
    uv_unref((uv_handle_t *)&s->sigint);
    uv_unref((uv_handle_t *)&s->sigterm);
}

void txs_signals_stop(txs_server_t *s)
{
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}
