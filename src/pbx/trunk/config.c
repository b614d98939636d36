/* The trunks' configuration in memory: read from the store's objects (on the
 * storage worker, host names resolved there), applied on the signalling
 * thread, and the lookups calls make in it. Lists are small (an administrator's
 * configuration), so lookups walk arrays in the order that decides. */
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "pbx/dialplan.h"
#include "pbx/trunk/trunk_int.h"

static const char *jstr(const json_t *j, const char *k)
{
	const char *v = json_string_value(json_object_get(j, k));
	return v ? v : "";
}

static uint64_t jid(const json_t *j, const char *k)
{
	const char *v = jstr(j, k);
	return strtoull(v, NULL, 10);
}

static void conf_destroy(void *data)
{
	struct trunk_conf *c = data;
	for (size_t i = 0; i < c->nprov; i++)
		free(c->prov[i].assignees);
	free(c->prov);
	free(c->in);
	free(c->out);
	free(c->cc);
	free(c->dis);
	free(c->bl);
	free(c->lim);
}

/* --- resolving ------------------------------------------------------------------------- */

/* host[:port] (or [v6][:port]) into dest; numeric hosts need no lookup. */
static void resolve(const char *hostport, uint16_t dport, struct sa *dest, char *err, size_t esz)
{
	char host[256];
	uint16_t port = dport;
	const char *colon = NULL;
	if (hostport[0] == '[') {
		const char *e = strchr(hostport, ']');
		snprintf(host, sizeof(host), "%.*s", e ? (int)(e - hostport - 1) : 0, hostport + 1);
		colon = e && e[1] == ':' ? e + 1 : NULL;
	} else {
		colon = strchr(hostport, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - hostport) : (int)strlen(hostport), hostport);
	}
	if (colon)
		port = (uint16_t)strtoul(colon + 1, NULL, 10);
	memset(dest, 0, sizeof(*dest));
	err[0] = '\0';
	if (sa_set(dest, host, port) == 0)
		return;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM }, *ai = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc || !ai) {
		snprintf(err, esz, "cannot resolve %.40s: %.60s", host, rc ? gai_strerror(rc) : "no address");
		memset(dest, 0, sizeof(*dest));
		return;
	}
	/* IPv4 first: most carriers' signalling is. */
	const struct addrinfo *pick = ai;
	for (const struct addrinfo *a = ai; a; a = a->ai_next) {
		if (a->ai_family == AF_INET) {
			pick = a;
			break;
		}
	}
	memcpy(&dest->u, pick->ai_addr, pick->ai_addrlen);
	dest->len = pick->ai_addrlen;
	sa_set_port(dest, port);
	freeaddrinfo(ai);
}

static bool net_parse(const char *v, struct trunk_net *n)
{
	char a[64];
	const char *slash = strchr(v, '/');
	snprintf(a, sizeof(a), "%.*s", slash ? (int)(slash - v) : (int)strlen(v), v);
	if (sa_set(&n->addr, a, 0))
		return false;
	n->bits = slash ? (unsigned)strtoul(slash + 1, NULL, 10) : sa_af(&n->addr) == AF_INET ? 32 : 128;
	return true;
}

/* --- reading ------------------------------------------------------------------------------ */

static int provider_read(struct trunk_provider *p, const struct store_obj *o)
{
	json_t *j = json_loads(o->json, 0, NULL);
	if (!j)
		return EINVAL;
	memset(p, 0, sizeof(*p));
	p->id = o->id;
	p->tenant_id = o->tenant_id;
	snprintf(p->name, sizeof(p->name), "%s", jstr(j, "name"));
	snprintf(p->host, sizeof(p->host), "%s", jstr(j, "hostname"));
	p->port = (uint16_t)json_integer_value(json_object_get(j, "port"));
	if (!p->port)
		p->port = 5060;
	const char *tp = jstr(j, "transport");
	p->tp = strcmp(tp, "tcp") == 0 ? SIP_TP_TCP : strcmp(tp, "tls") == 0 ? SIP_TP_TLS : SIP_TP_UDP;
	p->reg = strcmp(jstr(j, "authentication"), "register") == 0;
	p->enabled = !json_is_false(json_object_get(j, "enabled"));
	snprintf(p->username, sizeof(p->username), "%s", jstr(j, "username"));
	snprintf(p->auth_user, sizeof(p->auth_user), "%s", *jstr(j, "auth_username") ? jstr(j, "auth_username")
										 : jstr(j, "username"));
	snprintf(p->password, sizeof(p->password), "%s", jstr(j, "password"));
	snprintf(p->cc, sizeof(p->cc), "%s", jstr(j, "country_code"));
	p->expires = (uint32_t)json_integer_value(json_object_get(j, "register_expires"));
	if (!p->expires)
		p->expires = 3600;
	p->max_calls = (uint32_t)json_integer_value(json_object_get(j, "max_calls"));
	json_t *as = json_object_get(j, "assignees");
	if (json_array_size(as)) {
		p->assignees = calloc(json_array_size(as), sizeof(*p->assignees));
		size_t i;
		json_t *v;
		json_array_foreach(as, i, v) {
			if (p->assignees && json_string_value(v))
				p->assignees[p->nassignees++] = strtoull(json_string_value(v), NULL, 10);
		}
	}
	const char *proxy = jstr(j, "outbound_proxy");
	resolve(*proxy ? proxy : p->host, p->port, &p->dest, p->dest_err, sizeof(p->dest_err));
	/* The proxy's host (without port or brackets), else the hostname. */
	const char *nm = *proxy ? proxy : p->host;
	size_t nl = strlen(nm);
	if (nm[0] == '[') {
		const char *e = strchr(nm, ']');
		nm++;
		nl = e ? (size_t)(e - nm) : strlen(nm);
	} else if (strchr(nm, ':') && strchr(nm, ':') == strrchr(nm, ':')) {
		nl = (size_t)(strchr(nm, ':') - nm);
	}
	snprintf(p->tls_name, sizeof(p->tls_name), "%.*s", (int)nl, nm);
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(j, "ip_addresses"), i, v) {
		if (p->nnets < TRUNK_NETS_MAX && json_string_value(v) && net_parse(json_string_value(v), &p->nets[p->nnets]))
			p->nnets++;
	}
	/* Without addresses of its own the provider is known by where pbxd sends
	 * (its proxy or host) and its host's address. */
	if (!p->nnets && sa_af(&p->dest)) {
		p->nets[p->nnets++] = (struct trunk_net){ .addr = p->dest, .bits = sa_af(&p->dest) == AF_INET ? 32 : 128 };
		if (*proxy) {
			struct sa h;
			char err[128];
			resolve(p->host, p->port, &h, err, sizeof(err));
			if (sa_af(&h))
				p->nets[p->nnets++] = (struct trunk_net){ .addr = h, .bits = sa_af(&h) == AF_INET ? 32 : 128 };
		}
	}
	json_decref(j);
	return 0;
}

static void dest_read(const json_t *d, char *action, size_t asz, char *number, size_t nsz)
{
	snprintf(action, asz, "%s", *jstr(d, "action") ? jstr(d, "action") : "hangup");
	snprintf(number, nsz, "%s", jstr(d, "number"));
}

static int inbound_read(struct trunk_inbound *r, const struct store_obj *o)
{
	json_t *j = json_loads(o->json, 0, NULL);
	if (!j)
		return EINVAL;
	memset(r, 0, sizeof(*r));
	r->id = r->m.rule_id = o->id;
	r->tenant_id = r->m.tenant_id = o->tenant_id;
	r->provider_id = jid(j, "provider_id");
	snprintf(r->did, sizeof(r->did), "%s", jstr(j, "did"));
	dest_read(json_object_get(j, "destination"), r->m.action, sizeof(r->m.action), r->m.number,
		  sizeof(r->m.number));
	const json_t *od = json_object_get(j, "outside_hours_destination");
	if (json_is_object(od)) {
		r->m.has_outside = true;
		dest_read(od, r->m.out_action, sizeof(r->m.out_action), r->m.out_number, sizeof(r->m.out_number));
	}
	json_decref(j);
	return 0;
}

static int outbound_read(struct trunk_outbound *r, const struct store_obj *o)
{
	json_t *j = json_loads(o->json, 0, NULL);
	if (!j)
		return EINVAL;
	memset(r, 0, sizeof(*r));
	r->id = o->id;
	r->tenant_id = o->tenant_id;
	snprintf(r->name, sizeof(r->name), "%s", jstr(j, "name"));
	snprintf(r->pattern, sizeof(r->pattern), "%s", jstr(j, "pattern"));
	r->strip = (unsigned)json_integer_value(json_object_get(j, "strip_digits"));
	snprintf(r->prepend, sizeof(r->prepend), "%s", jstr(j, "prepend"));
	r->priority = json_object_get(j, "priority") ? (int)json_integer_value(json_object_get(j, "priority")) : 100;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(j, "provider_ids"), i, v) {
		if (r->nproviders < TRUNK_ROUTE_MAX && json_string_value(v))
			r->providers[r->nproviders++] = strtoull(json_string_value(v), NULL, 10);
	}
	json_decref(j);
	return 0;
}

static int code_read(struct trunk_code *c, const struct store_obj *o, const char *field)
{
	json_t *j = json_loads(o->json, 0, NULL);
	if (!j)
		return EINVAL;
	c->tenant_id = o->tenant_id;
	const char *v = jstr(j, field);
	snprintf(c->code, sizeof(c->code), "%s", v[0] == '+' ? v + 1 : v);
	json_decref(j);
	return 0;
}

static int limits_read(struct trunk_limits *l, const struct store_obj *o)
{
	json_t *j = json_loads(o->json, 0, NULL);
	if (!j)
		return EINVAL;
	l->tenant_id = o->tenant_id;
	l->max_conc = (uint32_t)json_integer_value(json_object_get(j, "max_concurrent_calls"));
	l->max_hour = (uint32_t)json_integer_value(json_object_get(j, "max_calls_per_hour"));
	l->ext_conc = (uint32_t)json_integer_value(json_object_get(j, "extension_max_concurrent_calls"));
	l->ext_hour = (uint32_t)json_integer_value(json_object_get(j, "extension_max_calls_per_hour"));
	json_decref(j);
	return 0;
}

/* Rows of one kind into a growing array of elements of size sz. */
struct reader {
	struct trunk_conf *c;
	int kind;
	void **arr;
	size_t *n, cap, sz;
	int err;
};

static int read_row(const void *row, void *arg)
{
	const struct store_obj *o = row;
	struct reader *r = arg;
	if (*r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		void *a = realloc(*r->arr, cap * r->sz);
		if (!a)
			return ENOMEM;
		*r->arr = a;
		r->cap = cap;
	}
	void *el = (char *)*r->arr + *r->n * r->sz;
	int e;
	switch (r->kind) {
	case STORE_OBJ_PROVIDER: e = provider_read(el, o); break;
	case STORE_OBJ_INBOUND_RULE: e = inbound_read(el, o); break;
	case STORE_OBJ_OUTBOUND_RULE: e = outbound_read(el, o); break;
	case STORE_OBJ_COUNTRY_CODE:
	case STORE_OBJ_DISALLOWED_CODE: e = code_read(el, o, "code"); break;
	case STORE_OBJ_BLACKLISTED: e = code_read(el, o, "number"); break;
	case STORE_OBJ_OUTBOUND_LIMITS: e = limits_read(el, o); break;
	default: e = EINVAL;
	}
	if (e) {
		/* The API wrote it valid: a row that will not parse is skipped, loudly. */
		log_warn("trunks: object %llu of kind %d unreadable; skipped", (unsigned long long)o->id, r->kind);
		return 0;
	}
	(*r->n)++;
	return 0;
}

static int inbound_cmp(const void *a, const void *b)
{
	const struct trunk_inbound *x = a, *y = b;
	return dialplan_did_cmp(x->did, y->did);
}

static int outbound_cmp(const void *a, const void *b)
{
	const struct trunk_outbound *x = a, *y = b;
	if (x->tenant_id != y->tenant_id)
		return x->tenant_id < y->tenant_id ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	int c = dialplan_pattern_cmp(x->pattern, y->pattern);
	return c ? c : x->id < y->id ? -1 : x->id > y->id;
}

int trunks_conf_load(struct store *st, struct trunk_conf **out)
{
	struct trunk_conf *c = mem_zalloc(sizeof(*c), conf_destroy);
	if (!c)
		return ENOMEM;
	struct {
		int kind;
		void **arr;
		size_t *n, sz;
	} kinds[] = {
		{ STORE_OBJ_PROVIDER, (void **)&c->prov, &c->nprov, sizeof(*c->prov) },
		{ STORE_OBJ_INBOUND_RULE, (void **)&c->in, &c->nin, sizeof(*c->in) },
		{ STORE_OBJ_OUTBOUND_RULE, (void **)&c->out, &c->nout, sizeof(*c->out) },
		{ STORE_OBJ_COUNTRY_CODE, (void **)&c->cc, &c->ncc, sizeof(*c->cc) },
		{ STORE_OBJ_DISALLOWED_CODE, (void **)&c->dis, &c->ndis, sizeof(*c->dis) },
		{ STORE_OBJ_BLACKLISTED, (void **)&c->bl, &c->nbl, sizeof(*c->bl) },
		{ STORE_OBJ_OUTBOUND_LIMITS, (void **)&c->lim, &c->nlim, sizeof(*c->lim) },
	};
	int e = 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && !e; i++) {
		struct reader r = { c, kinds[i].kind, kinds[i].arr, kinds[i].n, 0, kinds[i].sz, 0 };
		e = store_obj_scan(st, kinds[i].kind, read_row, &r);
	}
	if (e) {
		mem_deref(c);
		return e;
	}
	if (c->nin)
		qsort(c->in, c->nin, sizeof(*c->in), inbound_cmp);
	if (c->nout)
		qsort(c->out, c->nout, sizeof(*c->out), outbound_cmp);
	*out = c;
	return 0;
}

/* --- lookups ---------------------------------------------------------------------------------- */

static bool net_has(const struct trunk_net *n, const struct sa *a)
{
	if (sa_af(&n->addr) != sa_af(a))
		return false;
	const uint8_t *x, *y;
	unsigned len;
	if (sa_af(a) == AF_INET) {
		x = (const uint8_t *)&n->addr.u.in.sin_addr;
		y = (const uint8_t *)&a->u.in.sin_addr;
		len = 32;
	} else {
		x = n->addr.u.in6.sin6_addr.s6_addr;
		y = a->u.in6.sin6_addr.s6_addr;
		len = 128;
	}
	unsigned bits = n->bits < len ? n->bits : len;
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(x, y, full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (x[full] & mask) == (y[full] & mask);
}

const struct trunk_provider *trunks_provider_by_source(const struct trunks *t, const struct sa *src)
{
	const struct trunk_conf *c = t->conf;
	for (size_t i = 0; c && i < c->nprov; i++) {
		const struct trunk_provider *p = &c->prov[i];
		if (!p->enabled)
			continue;
		for (size_t k = 0; k < p->nnets; k++) {
			if (net_has(&p->nets[k], src))
				return p;
		}
	}
	return NULL;
}

const struct trunk_provider *trunks_provider(const struct trunks *t, uint64_t id)
{
	const struct trunk_conf *c = t->conf;
	for (size_t i = 0; c && i < c->nprov; i++) {
		if (c->prov[i].id == id)
			return &c->prov[i];
	}
	return NULL;
}

bool trunks_provider_usable(const struct trunk_provider *p, uint64_t tenant_id)
{
	if (p->tenant_id)
		return p->tenant_id == tenant_id;
	for (size_t i = 0; i < p->nassignees; i++) {
		if (p->assignees[i] == tenant_id)
			return true;
	}
	return false;
}

/* Rules are in preference order: the first of a tenant that may use p wins.
 * Several providers may share an address (one carrier, many accounts): a rule
 * of any of them is the provider's when the caller came from its address. */
int trunks_inbound(const struct trunks *t, const struct trunk_provider *p, const char *did,
		   struct trunk_inbound_match *out)
{
	const struct trunk_conf *c = t->conf;
	for (size_t i = 0; c && i < c->nin; i++) {
		const struct trunk_inbound *r = &c->in[i];
		const struct trunk_provider *rp = r->provider_id == p->id ? p : trunks_provider(t, r->provider_id);
		if (!rp || !rp->enabled || !trunks_provider_usable(rp, r->tenant_id))
			continue;
		if (rp != p) {
			/* another account of the same carrier: the same source addresses */
			bool same = false;
			for (size_t k = 0; k < rp->nnets && !same; k++)
				for (size_t m = 0; m < p->nnets && !same; m++)
					same = net_has(&rp->nets[k], &p->nets[m].addr) && p->nets[m].bits >= rp->nets[k].bits;
			if (!same)
				continue;
		}
		if (dialplan_did_match(r->did, did, rp->cc)) {
			*out = r->m;
			return 0;
		}
	}
	return ENOENT;
}

static bool code_listed(const struct trunk_code *v, size_t n, uint64_t tenant_id, const char *num, const char *cc,
			bool prefix)
{
	char e164[TRUNK_NUM_SZ] = "";
	dialplan_e164(num, cc, e164, sizeof(e164));
	const char *bare = num[0] == '+' ? num + 1 : num;
	for (size_t i = 0; i < n; i++) {
		if (v[i].tenant_id != tenant_id)
			continue;
		if (prefix ? dialplan_has_prefix(bare, v[i].code) || (e164[0] && dialplan_has_prefix(e164, v[i].code))
			   : strcmp(bare, v[i].code) == 0 || (e164[0] && strcmp(e164, v[i].code) == 0))
			return true;
		if (!prefix && e164[0]) {
			char other[TRUNK_NUM_SZ];
			if (dialplan_e164(v[i].code, cc, other, sizeof(other)) == 0 && strcmp(other, e164) == 0)
				return true;
		}
	}
	return false;
}

bool trunks_blacklisted(const struct trunks *t, uint64_t tenant_id, const char *number, const char *cc)
{
	const struct trunk_conf *c = t->conf;
	return c && number[0] && code_listed(c->bl, c->nbl, tenant_id, number, cc, false);
}

/* International as sent: '+', 00, or 011 with a NANP provider. The country is
 * the allowed code it starts with; none: refused. */
static bool country_allowed(const struct trunk_conf *c, uint64_t tenant_id, const char *num, const char *cc)
{
	const char *intl = NULL;
	if (num[0] == '+')
		intl = num + 1;
	else if (strncmp(num, "00", 2) == 0)
		intl = num + 2;
	else if (strcmp(cc, "1") == 0 && strncmp(num, "011", 3) == 0)
		intl = num + 3;
	if (!intl)
		return true; /* a national number */
	if (cc[0] && dialplan_has_prefix(intl, cc))
		return true; /* the provider's own country */
	for (size_t i = 0; i < c->ncc; i++) {
		if (c->cc[i].tenant_id == tenant_id && dialplan_has_prefix(intl, c->cc[i].code))
			return true;
	}
	return false;
}

int trunks_outbound(const struct trunks *t, uint64_t tenant_id, const char *dialled, struct trunk_route *out,
		    size_t max, size_t *n, const char **why)
{
	const struct trunk_conf *c = t->conf;
	*n = 0;
	*why = "No Route";
	if (c && code_listed(c->dis, c->ndis, tenant_id, dialled, "", true)) {
		*why = "Number Not Allowed";
		return EACCES;
	}
	for (size_t i = 0; c && i < c->nout; i++) {
		const struct trunk_outbound *r = &c->out[i];
		if (r->tenant_id != tenant_id || !dialplan_pattern_match(r->pattern, dialled))
			continue;
		char num[TRUNK_NUM_SZ];
		if (dialplan_rewrite(dialled, r->strip, r->prepend, num, sizeof(num)))
			continue;
		if (code_listed(c->dis, c->ndis, tenant_id, num, "", true)) {
			*why = "Number Not Allowed";
			return EACCES;
		}
		bool refused_country = false;
		for (size_t k = 0; k < r->nproviders && *n < max; k++) {
			const struct trunk_provider *p = trunks_provider(t, r->providers[k]);
			if (!p || !p->enabled || !trunks_provider_usable(p, tenant_id))
				continue;
			if (!country_allowed(c, tenant_id, num, p->cc)) {
				refused_country = true;
				continue;
			}
			out[*n] = (struct trunk_route){ .provider_id = p->id };
			snprintf(out[*n].number, sizeof(out[*n].number), "%s", num);
			snprintf(out[*n].rule, sizeof(out[*n].rule), "%s", r->name);
			(*n)++;
		}
		if (!*n && refused_country) {
			*why = "Country Not Allowed";
			return EACCES;
		}
		if (!*n) {
			*why = "No Provider Available";
			return ENOENT;
		}
		return 0;
	}
	return ENOENT;
}

const char *trunks_public_address(const struct trunks *t)
{
	return t->public_addr;
}
