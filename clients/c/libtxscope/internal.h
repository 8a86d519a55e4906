/* internal.h - what the files of libtxscope share and its users must not see. */
#ifndef TXSCOPE_INTERNAL_H
#define TXSCOPE_INTERNAL_H

#include "clients/c/libtxscope/txscope.h"

/* Records a failure on c (code and printf-style message) and returns code. */
int txscope__fail(txscope_conn_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads until the reply whose "id" equals id (an integer or a string item) arrives;
 * other replies are stashed. */
cJSON *txscope__wait_for(txscope_conn_t *c, const cJSON *id, int timeout_ms);

/* Stores in the valuestring of every number item under root the exact text that item
 * was parsed from in `text` (the JSON text root was parsed from). */
void txscope__keep_number_text(cJSON *root, const char *text);

/* Prints item as compact JSON, writing number items that carry their exact text
 * (see txscope__keep_number_text) with that text. The result is freed with cJSON_free. */
char *txscope__print(cJSON *item);

#endif
