/* Reference-counted allocation: the one ownership rule of pbxd.
 * An object is allocated with its destructor; whoever holds a reference calls
 * mem_deref() when done, and the destructor runs when the last reference goes. */
#ifndef CORE_MEM_H
#define CORE_MEM_H

#include <stddef.h>

typedef void (mem_destroy_h)(void *data);

void *mem_zalloc(size_t size, mem_destroy_h *dh);
void *mem_ref(void *data);
/* Drops one reference; always returns NULL so that `p = mem_deref(p)` clears p. */
void *mem_deref(void *data);
unsigned mem_nrefs(const void *data);
/* Copies len bytes into a new NUL-terminated refcounted string. */
char *mem_strndup(const char *s, size_t len);

#endif
