/* The toll-fraud caps on calls out (issue 15): per tenant and per extension,
 * calls at once and calls started in the last hour (a minute's resolution), and
 * each provider's calls at once. Counts live in memory: a restart forgets the
 * hour's (the caps bound damage per hour, not across restarts). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "core/mem.h"
#include "pbx/trunk/trunk_int.h"

struct trunk_count *trunk_count_get(struct trunks *t, uint64_t id, bool create)
{
	uint32_t k = hash_u64(id);
	for (struct le *le = hash_bucket(&t->counts, k)->head; le; le = le->next) {
		struct trunk_count *c = le->data;
		if (c->id == id)
			return c;
	}
	if (!create)
		return NULL;
	struct trunk_count *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = id;
	hash_insert(&t->counts, k, &c->le, c);
	return c;
}

void trunk_counts_free(struct trunks *t)
{
	for (uint32_t b = 0; b <= t->counts.mask; b++) {
		struct list *l = &t->counts.buckets[b];
		while (l->head) {
			struct trunk_count *c = l->head->data;
			list_unlink(&c->le);
			free(c);
		}
	}
}

static int64_t now_minute(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec / 60;
}

static uint32_t last_hour(struct trunk_count *c, int64_t m)
{
	uint32_t n = 0;
	for (int i = 0; i < 60; i++) {
		if (c->minute_of[i] > m - 60)
			n += c->minute[i];
	}
	return n;
}

static void started(struct trunk_count *c, int64_t m)
{
	int i = (int)(m % 60);
	if (c->minute_of[i] != m) {
		c->minute_of[i] = m;
		c->minute[i] = 0;
	}
	c->minute[i]++;
	c->conc++;
}

static const struct trunk_limits *limits_of(const struct trunks *t, uint64_t tenant_id)
{
	/* What the API answers for a tenant that never set them. */
	static const struct trunk_limits dflt = { 0, 10, 60, 2, 20 };
	const struct trunk_conf *c = t->conf;
	for (size_t i = 0; c && i < c->nlim; i++) {
		if (c->lim[i].tenant_id == tenant_id)
			return &c->lim[i];
	}
	return &dflt;
}

int trunks_out_start(struct trunks *t, uint64_t tenant_id, uint64_t user_id, const char **why)
{
	const struct trunk_limits *l = limits_of(t, tenant_id);
	struct trunk_count *tc = trunk_count_get(t, tenant_id, true), *uc = trunk_count_get(t, user_id, true);
	if (!tc || !uc) {
		*why = "Out Of Memory";
		return ENOMEM;
	}
	int64_t m = now_minute();
	if (l->max_conc && tc->conc >= l->max_conc)
		*why = "Tenant Outbound Call Limit";
	else if (l->max_hour && last_hour(tc, m) >= l->max_hour)
		*why = "Tenant Hourly Outbound Limit";
	else if (l->ext_conc && uc->conc >= l->ext_conc)
		*why = "Extension Outbound Call Limit";
	else if (l->ext_hour && last_hour(uc, m) >= l->ext_hour)
		*why = "Extension Hourly Outbound Limit";
	else {
		started(tc, m);
		started(uc, m);
		return 0;
	}
	return EDQUOT;
}

void trunks_out_end(struct trunks *t, uint64_t tenant_id, uint64_t user_id)
{
	struct trunk_count *tc = trunk_count_get(t, tenant_id, false), *uc = trunk_count_get(t, user_id, false);
	if (tc && tc->conc)
		tc->conc--;
	if (uc && uc->conc)
		uc->conc--;
}

/* Provider ids are time-ordered store ids like users' and tenants': they
 * share one table without colliding. */
bool trunks_provider_call_add(struct trunks *t, uint64_t provider_id)
{
	const struct trunk_provider *p = trunks_provider(t, provider_id);
	struct trunk_count *c = trunk_count_get(t, provider_id, true);
	if (!c || (p && p->max_calls && c->conc >= p->max_calls))
		return false;
	c->conc++;
	return true;
}

void trunks_provider_call_del(struct trunks *t, uint64_t provider_id)
{
	struct trunk_count *c = trunk_count_get(t, provider_id, false);
	if (c && c->conc)
		c->conc--;
}
