/* Intrusive hash table of lists with a power-of-two bucket count; the caller keeps
 * the key in its object and compares it while walking a bucket. */
#ifndef CORE_HASH_H
#define CORE_HASH_H

#include <stddef.h>
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

/* FNV-1a over bytes, ASCII letters folded to lower case (SIP domains and
 * user parts compare case-insensitively where they are keys). */
static inline uint32_t hash_str_case(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		h = (h ^ c) * 16777619u;
	}
	return h;
}

static inline uint32_t hash_u64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (uint32_t)v;
}

static inline void hash_insert(struct hash *h, uint32_t key, struct le *le, void *data)
{
	list_append(hash_bucket(h, key), le, data);
}

#endif
