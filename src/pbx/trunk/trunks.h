/* SIP trunks on the signalling thread (issue 15): the providers, inbound and
 * outbound rules, number lists and outbound limits the API stores (store_obj),
 * held in memory; the registrations pbxd keeps with register-based providers;
 * the lookups the call engine makes for a call from or to the outside, and the
 * toll-fraud caps it counts against.
 *
 * The configuration is read whole (trunks_conf_load, on the storage worker,
 * which may block: host names are resolved there) and applied on the
 * signalling thread (trunks_conf_apply), which reconciles registrations: an
 * unchanged provider keeps its registration, a changed one registers anew, a
 * removed or disabled one unregisters. */
#ifndef PBX_TRUNK_TRUNKS_H
#define PBX_TRUNK_TRUNKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/conf.h"
#include "core/loop.h"
#include "core/sa.h"
#include "pbx/pbx.h"
#include "sip/stack.h"
#include "store/store.h"

extern const struct conf_opt trunk_opts[];
extern const size_t trunk_opts_count;

enum { TRUNK_NETS_MAX = 32, TRUNK_ROUTE_MAX = 8, TRUNK_NUM_SZ = 68 };

struct trunk_net {
	struct sa addr;
	unsigned bits;
};

/* A provider as configured, with its host resolved. */
struct trunk_provider {
	uint64_t id, tenant_id;       /* tenant_id 0: the system's */
	char name[65];
	char host[254];               /* hostname: Request-URIs and To/From of REGISTER */
	uint16_t port;
	enum sip_transport_kind tp;
	bool reg;                     /* register-based; else ip */
	bool enabled;
	char username[65], auth_user[65], password[129];
	char cc[5];                   /* country code for E.164 forms, "" none */
	uint32_t expires, max_calls;
	uint64_t *assignees;          /* tenants a system provider is assigned to */
	size_t nassignees;
	struct trunk_net nets[TRUNK_NETS_MAX]; /* where its calls come from */
	size_t nnets;
	struct sa dest;               /* where its requests go (proxy, else host); af 0: unresolved */
	char tls_name[254];           /* TLS: the name dest's certificate must carry (proxy's, else host) */
	char dest_err[128];           /* why dest is unresolved */
};

/* What the storage worker read; owned by whoever holds it (mem_deref). */
struct trunk_conf;

/* The objects of every kind, parsed, hosts resolved (blocking: the worker's
 * thread or start-up). 0 or errno. */
int trunks_conf_load(struct store *st, struct trunk_conf **out);

struct trunks;

/* Not reference counted: trunks_free() unregisters nothing (a stop keeps
 * registrations alive at the providers until they expire). */
int trunks_alloc(struct trunks **tp, struct loop *loop, struct sip_stack *sip, const struct conf *conf);
void trunks_free(struct trunks *t);
/* Takes conf (a reference) and reconciles registrations with it. */
void trunks_conf_apply(struct trunks *t, struct trunk_conf *conf);
int trunks_status(struct trunks *t, uint64_t provider_id, struct pbx_provider_status *out);

/* --- for the call engine ------------------------------------------------------------- */

/* The enabled provider a request from src over tp comes from (its nets), or NULL. */
const struct trunk_provider *trunks_provider_by_source(const struct trunks *t, const struct sa *src);
const struct trunk_provider *trunks_provider(const struct trunks *t, uint64_t id);
/* Whether tenant_id may use provider p (its own, or the system's assigned to it). */
bool trunks_provider_usable(const struct trunk_provider *p, uint64_t tenant_id);

/* An inbound rule's answer for a DID of provider p. */
struct trunk_inbound_match {
	uint64_t rule_id, tenant_id;
	char action[8];               /* "number" or "hangup" */
	char number[33];
	bool has_outside;             /* a destination for closed office hours */
	char out_action[8], out_number[33];
};
/* 0, or ENOENT when no rule of a tenant that may use p answers did. */
int trunks_inbound(const struct trunks *t, const struct trunk_provider *p, const char *did,
		   struct trunk_inbound_match *out);
/* Whether the tenant refuses calls from number (its blacklist, E.164-aware with cc). */
bool trunks_blacklisted(const struct trunks *t, uint64_t tenant_id, const char *number, const char *cc);

/* One way out for a dialled number: a provider and the number as sent to it. */
struct trunk_route {
	uint64_t provider_id;
	char number[TRUNK_NUM_SZ];
	char rule[129];
};
/* The routes of the first outbound rule of the tenant that matches dialled
 * (rules lowest priority first, the more specific pattern first), providers in
 * the rule's order, those the tenant may no longer use or that are disabled
 * left out. 0 with *n routes; ENOENT when no rule matches (nothing may go
 * out); EACCES when the number is disallowed (a disallowed code, or a country
 * not allowed), with *why. */
int trunks_outbound(const struct trunks *t, uint64_t tenant_id, const char *dialled, struct trunk_route *out,
		    size_t max, size_t *n, const char **why);

/* The outbound caps: may user_id of tenant_id start a call out now? 0, or
 * EDQUOT with *why ("Tenant Outbound Call Limit"...). trunks_out_start counts
 * the call (concurrent and per hour) when allowed; trunks_out_end releases
 * the concurrent count. */
int trunks_out_start(struct trunks *t, uint64_t tenant_id, uint64_t user_id, const char **why);
void trunks_out_end(struct trunks *t, uint64_t tenant_id, uint64_t user_id);
/* A provider's calls in progress (its max_calls cap; the status's count). */
bool trunks_provider_call_add(struct trunks *t, uint64_t provider_id);
void trunks_provider_call_del(struct trunks *t, uint64_t provider_id);

/* The address written in SDP and Contact towards providers (--public-address), "" none. */
const char *trunks_public_address(const struct trunks *t);

#endif
