/* Inside pbx/trunk: the configuration as read (config.c), the registrations
 * kept with providers (register.c) and the counters of the caps (limits.c). */
#ifndef PBX_TRUNK_TRUNK_INT_H
#define PBX_TRUNK_TRUNK_INT_H

#include "core/hash.h"
#include "core/list.h"
#include "core/timer.h"
#include "pbx/trunk/trunks.h"
#include "sip/tsx.h"

struct trunk_inbound {
	uint64_t id, tenant_id, provider_id;
	char did[65];
	struct trunk_inbound_match m;
};

struct trunk_outbound {
	uint64_t id, tenant_id;
	char name[129];
	char pattern[65];
	unsigned strip;
	char prepend[33];
	uint64_t providers[TRUNK_ROUTE_MAX];
	size_t nproviders;
	int priority;
};

/* An entry of a tenant's number lists (allowed country codes, disallowed
 * codes, blacklisted numbers). */
struct trunk_code {
	uint64_t tenant_id;
	char code[33];
};

struct trunk_limits {
	uint64_t tenant_id;
	uint32_t max_conc, max_hour, ext_conc, ext_hour;
};

struct trunk_conf {
	struct trunk_provider *prov;
	size_t nprov;
	struct trunk_inbound *in;   /* in dialplan_did_cmp order */
	size_t nin;
	struct trunk_outbound *out; /* by tenant, priority, pattern specificity */
	size_t nout;
	struct trunk_code *cc, *dis, *bl;
	size_t ncc, ndis, nbl;
	struct trunk_limits *lim;
	size_t nlim;
};

/* A registration with a register-based provider. */
enum reg_state { REG_IDLE, REG_SENDING, REG_OK, REG_FAILED };
struct trunk_reg {
	struct trunks *t;
	struct trunk_provider p;    /* the configuration it registers with (assignees not kept) */
	enum reg_state state;
	bool ever_ok;
	char call_id[48], tag[24];
	uint32_t cseq;
	unsigned failures;          /* in a row: the back-off grows with them */
	unsigned auth_tries;        /* challenges answered for the current attempt */
	uint16_t last_code;
	char last_error[128];
	int64_t expires_at, next_at;
	struct tmr tmr;
	struct sip_ctsx *ct;
	bool unregistering;         /* the provider went: Expires 0 sent, then freed */
	struct le le;
};

struct trunk_count {
	uint64_t id;                /* a tenant, a user or a provider */
	unsigned conc;
	uint32_t minute[60];        /* calls started in each of the last 60 minutes */
	int64_t minute_of[60];
	struct le le;
};

struct trunks {
	struct loop *loop;
	struct sip_stack *sip;
	struct trunk_conf *conf;
	struct list regs;
	struct hash counts;          /* struct trunk_count by id */
	char public_addr[64];
	uint32_t retry_min_s, retry_max_s;
};

/* register.c */
void trunk_regs_reconcile(struct trunks *t);
void trunk_regs_free(struct trunks *t);
struct trunk_reg *trunk_reg_find(struct trunks *t, uint64_t provider_id);

/* limits.c */
struct trunk_count *trunk_count_get(struct trunks *t, uint64_t id, bool create);
void trunk_counts_free(struct trunks *t);

#endif
