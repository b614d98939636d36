/* Constructors of the storage backends; internal to src/store (callers use
 * store_open() from store.h). A PostgreSQL backend adds its constructor here. */
#ifndef STORE_STORE_BACKEND_H
#define STORE_STORE_BACKEND_H

#include "store/store.h"

/* Opens data_dir/pbxd.db (WAL mode) and applies pending migrations. */
int store_sqlite_open(struct store **stp, const char *data_dir);

#endif
