/* pg_options.h - the `options` a PostgreSQL connection is opened with. */
#ifndef TXS_DRIVERS_PG_OPTIONS_H
#define TXS_DRIVERS_PG_OPTIONS_H

/* The user's options (from the dsn's `options`, else PGOPTIONS), then the session
 * settings that give values one text form (DateStyle, TimeZone, float digits, bytea
 * output), which win. The caller frees the string. */
char *txs_pg_options(const char *dsn);

#endif
