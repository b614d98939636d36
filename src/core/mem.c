/* Reference-counted allocation (see mem.h). The header sits before the data, so a
 * pointer to the data is all callers ever hold. Threads exchange messages (see
 * mqueue.h), but a few immutable objects are held by several at once (pbxd's DTLS
 * certificate: the signalling thread refers to it in every relay it asks for, the
 * media workers let go of it as their WebRTC sides end), so the count is atomic;
 * with plain increments two threads lost updates and freed it early. */
#include "core/mem.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MEM_MAGIC 0x6d656d21u

struct mem {
	uint32_t magic;
	_Atomic uint32_t nrefs;
	mem_destroy_h *dh;
	max_align_t align[]; /* keeps the data that follows suitably aligned */
};

static struct mem *mem_hdr(const void *data)
{
	struct mem *m = (struct mem *)((char *)(uintptr_t)data - sizeof(struct mem));
	assert(m->magic == MEM_MAGIC);
	return m;
}

void *mem_zalloc(size_t size, mem_destroy_h *dh)
{
	if (size > SIZE_MAX - sizeof(struct mem))
		return NULL;
	struct mem *m = calloc(1, sizeof(*m) + size);
	if (!m)
		return NULL;
	m->magic = MEM_MAGIC;
	atomic_init(&m->nrefs, 1);
	m->dh = dh;
	return (char *)m + sizeof(*m);
}

void *mem_ref(void *data)
{
	if (data)
		atomic_fetch_add_explicit(&mem_hdr(data)->nrefs, 1, memory_order_relaxed);
	return data;
}

void *mem_deref(void *data)
{
	if (!data)
		return NULL;
	struct mem *m = mem_hdr(data);
	/* the last one's release is acquired before the object is torn down */
	uint32_t was = atomic_fetch_sub_explicit(&m->nrefs, 1, memory_order_acq_rel);
	assert(was > 0);
	if (was > 1)
		return NULL;
	if (m->dh)
		m->dh(data);
	/* A destructor may not resurrect the object. */
	assert(m->nrefs == 0);
	m->magic = 0;
	free(m);
	return NULL;
}

unsigned mem_nrefs(const void *data)
{
	return data ? atomic_load_explicit(&mem_hdr(data)->nrefs, memory_order_relaxed) : 0;
}

char *mem_strndup(const char *s, size_t len)
{
	char *d = mem_zalloc(len + 1, NULL);
	if (d && len)
		memcpy(d, s, len);
	return d;
}
