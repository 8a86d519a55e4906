/* signals.c - SIGTERM drains (drain.c), SIGINT rolls back everything and exits at once,
 * SIGHUP reloads the config (reload.c), SIGUSR1 logs the stats. */
#include "daemon/server.h"

#include <signal.h>

static void on_signal(uv_signal_t *h, int signum)
{
    txs_server_t *s = h->data;
    switch (signum) {
    case SIGUSR1:
        txs_server_log_stats(s);
        return;
    case SIGHUP:
        txs_server_reload(s);
        return;
    case SIGTERM:
        txs_server_drain(s);
        return;
    default:
        txs_server_shutdown(s, "SIGINT");
        return;
    }
}

void txs_signals_start(txs_server_t *s)
{
    uv_signal_t *const handles[] = {&s->sigint, &s->sigterm, &s->sigusr1, &s->sighup};
    const int signums[] = {SIGINT, SIGTERM, SIGUSR1, SIGHUP};
    for (int i = 0; i < 4; i++) {
        uv_signal_init(s->loop, handles[i]);
        handles[i]->data = s;
        uv_signal_start(handles[i], on_signal, signums[i]);
        uv_unref((uv_handle_t *)handles[i]); /* signal handlers alone keep no loop running */
    }
}

void txs_signals_stop(txs_server_t *s)
{
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigusr1, NULL);
    uv_close((uv_handle_t *)&s->sighup, NULL);
}
