/* driver.c - the table of drivers, looked up by the name in [db.*] driver = ... */
#include "drivers/driver.h"

#include <string.h>

static const txs_driver_t *const drivers[] = {
    &txs_driver_pg,
    &txs_driver_mysql,
};

const txs_driver_t *txs_driver_find(const char *name)
{
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
        if (strcmp(drivers[i]->name, name) == 0)
            return drivers[i];
    return NULL;
}

const char *txs_driver_names(void)
{
    return "postgresql, mysql";
}
