/* Intrusive hash table of lists with a power-of-two bucket count; the caller keeps
 * the key in its object and compares it while walking a bucket. */
#ifndef CORE_HASH_H
#define CORE_HASH_H

#include <stdint.h>
#include <stdlib.h>

#include "core/list.h"

struct hash {
	struct list *buckets;
	uint32_t mask;
};

static inline int hash_init(struct hash *h, uint32_t nbuckets_pow2)
{
	h->buckets = calloc(nbuckets_pow2, sizeof(*h->buckets));
	h->mask = nbuckets_pow2 - 1;
	return h->buckets ? 0 : -1;
}

static inline void hash_close(struct hash *h)
{
	free(h->buckets);
	h->buckets = NULL;
}

static inline struct list *hash_bucket(struct hash *h, uint32_t key)
{
	return &h->buckets[key & h->mask];
}

static inline void hash_insert(struct hash *h, uint32_t key, struct le *le, void *data)
{
	list_append(hash_bucket(h, key), le, data);
}

#endif
