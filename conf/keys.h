/* keys.h - the key table behind txs_conf_load: one row per key, and its typed values.
 * Private to conf/: the rest of the daemon reads txs_conf_t and txs_conf_key_info(). */
#ifndef TXS_CONF_KEYS_H
#define TXS_CONF_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

typedef enum txs_conf_type {
    TXS_CT_STRING,   /* char *, length within [min, max] (max 0: any); "" is NULL when min is 0 */
    TXS_CT_INT,      /* int within [min, max] */
    TXS_CT_DURATION, /* uint64_t milliseconds within [min, max] */
    TXS_CT_SIZE,     /* size_t bytes within [min, max] */
    TXS_CT_BOOL,     /* bool: on/off, true/false, yes/no, 1/0, any case */
    TXS_CT_ENUM,     /* int: the index of the value in `choices` */
    TXS_CT_CHOICE,   /* char *: a copy of the matching `choices` entry */
    TXS_CT_LISTEN,   /* HOST:PORT: host into the char * at offset, port into the int at
                        port_offset */
} txs_conf_type_t;

typedef enum txs_conf_section {
    TXS_CS_TXSCOPE, /* [txscope]: fields of txs_conf_t */
    TXS_CS_DB,      /* [db.NAME]: fields of txs_db_conf_t; those with a default may also be
                       written under [txscope], as the default for every db */
    TXS_CS_TOKENS,  /* [tokens]: NAME = secret, free-form names, so not in the key table */
} txs_conf_section_t;

typedef struct txs_conf_key {
    txs_conf_key_info_t info; /* first, so txs_conf_key_info() hands out &row->info */
    txs_conf_section_t section;
    txs_conf_type_t type;
    size_t offset;
    size_t port_offset; /* LISTEN: the int that gets the port */
    int64_t min, max;
    const char *const *choices; /* ENUM, CHOICE: NULL-terminated */
    const char *zero_means;     /* DURATION: what 0 means, when it is allowed */
    bool required;
} txs_conf_key_t;

/* The rows; keys.c asserts the count, so the loader can size arrays by it. */
#define TXS_CONF_NKEYS 33
extern const txs_conf_key_t txs_conf_keys[];

/* The key `name` of section s, or NULL. */
const txs_conf_key_t *txs_conf_key_find(txs_conf_section_t s, const char *name);

/* A [db.NAME] key that may also be written under [txscope]: every one with a default
 * (all but dsn, which each db needs its own of). */
bool txs_conf_key_has_txscope_default(const txs_conf_key_t *k);

/* Parses `value` into the key's field of `base` (a txs_conf_t or txs_db_conf_t); false,
 * with the field unchanged, when the value is not allowed. */
bool txs_conf_key_set(const txs_conf_key_t *k, void *base, const char *value);

/* The field of k from src to dst (both of k's section), strings duplicated. */
void txs_conf_key_copy(const txs_conf_key_t *k, void *dst, const void *src);

/* "expected ..." for a key's error messages: the allowed values. */
void txs_conf_key_describe(const txs_conf_key_t *k, char *buf, size_t len);

/* "listen, unix_socket, ..." for section s (upper-cased for the environment's messages);
 * txscope_defaults: only the [db.NAME] keys that take a [txscope] default. */
void txs_conf_key_list(txs_conf_section_t s, bool txscope_defaults, bool upper, char *buf,
                       size_t len);

/* Every key of section s with a default gets it. */
void txs_conf_keys_apply_defaults(txs_conf_section_t s, void *base);

/* Frees the strings the keys of section s hold in base. */
void txs_conf_keys_free_strings(txs_conf_section_t s, void *base);

#endif
