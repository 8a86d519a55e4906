/* metrics.c - the daemon's error counts by SQLSTATE. */
#include "daemon/metrics.h"

#include <stdbool.h>
#include <string.h>

static bool is_sqlstate(const char *code)
{
    if (!code)
        return false;
    for (int i = 0; i < 5; i++) {
        char ch = code[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z')))
            return false;
    }
    return code[5] == '\0';
}

void txs_metrics_count_error(txs_metrics_t *m, const char *code)
{
    if (!is_sqlstate(code))
        code = "XX000";
    m->errors_total++;
    /* A linear scan: errors are the uncommon path, and the codes seen are few. */
    for (int i = 0; i < m->nerrors; i++) {
        if (memcmp(m->errors[i].code, code, 6) == 0) {
            m->errors[i].n++;
            return;
        }
    }
    if (m->nerrors == TXS_METRICS_MAX_CODES) {
        m->errors_other++;
        return;
    }
    memcpy(m->errors[m->nerrors].code, code, 6);
    m->errors[m->nerrors++].n = 1;
}
