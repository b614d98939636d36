/* Failed-authentication counts, bans, blocked User-Agents, trusted addresses and
 * the per-source request rate (see security.h). */
#include "pbx/security.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/list.h"
#include "core/log.h"
#include "core/mem.h"
#include "sip/stack.h"
#include "store/store.h"

const struct conf_opt security_opts[] = {
	{ "auth-max-failures", CONF_INT, "10", 1, 1000000, NULL,
	  "failed SIP authentications from one source (an IPv4 address, an IPv6 /64) within"
	  " --auth-window before it is banned" },
	{ "auth-window", CONF_INT, "600", 1, 86400 * 7, NULL, "seconds over which failed authentications count" },
	{ "auth-ban-time", CONF_INT, "600", 1, 86400 * 365, NULL,
	  "seconds a banned source is ignored (every request it sends is dropped)" },
	{ "trusted-addresses", CONF_STR, "", 0, 0, NULL,
	  "CIDR list (e.g. 10.0.0.0/8,2001:db8::/32) never banned, throttled or filtered" },
	{ "blocked-user-agents", CONF_STR, "friendly-scanner,sipvicious,sipcli,vaxsipuseragent,iwar,sivus,sundayddr",
	  0, 0, NULL,
	  "comma-separated User-Agent substrings (case-insensitive) whose requests are dropped unanswered;"
	  " empty: none" },
	{ "sip-source-rate", CONF_INT, "200", 0, 1000000, NULL,
	  "SIP requests per second one source may send (beyond, they are dropped); 0: no limit" },
	{ "sip-source-burst", CONF_INT, "400", 1, 1000000, NULL, "requests one source may send at once" },
};
const size_t security_opts_count = sizeof(security_opts) / sizeof(security_opts[0]);

#define MAX_TRACKED 65536 /* sources with failures or bans held at once */
#define MAX_TRUSTED 64
#define MAX_UAS 32

struct source {
	uint64_t key;
	uint8_t af;
	int failures;
	uint64_t window_start; /* monotonic ms */
	uint64_t banned_until; /* monotonic ms; 0 when not banned */
	int64_t banned_at;     /* wall ms */
	struct le le_hash, le_lru;
};

struct cidr {
	int af;
	uint8_t addr[16];
	int prefix;
};

struct security {
	int max_failures;
	uint64_t window_ms, ban_ms;
	struct cidr trusted[MAX_TRUSTED];
	size_t ntrusted;
	char *uas[MAX_UAS];
	size_t nuas;
	struct sip_stack_limit *rate; /* NULL: no limit */
	struct hash sources;
	struct list lru; /* least recently failed first */
	size_t nsources;
	security_clock_h *now;
	void *now_arg;
};

static uint32_t source_hash(uint8_t af, uint64_t key)
{
	return hash_u64(key ^ ((uint64_t)af << 56));
}

static struct source *source_find(const struct security *s, uint8_t af, uint64_t key)
{
	LIST_FOREACH(hash_bucket((struct hash *)&s->sources, source_hash(af, key)), le) {
		struct source *x = le->data;
		if (x->af == af && x->key == key)
			return x;
	}
	return NULL;
}

static void source_free(struct security *s, struct source *x)
{
	list_unlink(&x->le_hash);
	list_unlink(&x->le_lru);
	s->nsources--;
	free(x);
}

static bool is_banned(const struct security *s, const struct source *x, uint64_t now)
{
	return x->banned_until && now < x->banned_until;
}

/* Room for one more: the least recently failed source that is not banned goes
 * (a ban is never forgotten to make room, or filling the table would lift it). */
static bool make_room(struct security *s, uint64_t now)
{
	if (s->nsources < MAX_TRACKED)
		return true;
	LIST_FOREACH(&s->lru, le) {
		struct source *x = le->data;
		if (!is_banned(s, x, now)) {
			source_free(s, x);
			return true;
		}
	}
	return false;
}

static void sec_destroy(void *arg)
{
	struct security *s = arg;
	while (s->lru.head)
		source_free(s, s->lru.head->data);
	hash_close(&s->sources);
	for (size_t i = 0; i < s->nuas; i++)
		free(s->uas[i]);
	sip_stack_limit_free(s->rate);
}

static int cidr_parse(const char *text, struct cidr *c)
{
	char buf[80];
	snprintf(buf, sizeof(buf), "%s", text);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1)
		c->af = AF_INET;
	else if (inet_pton(AF_INET6, buf, c->addr) == 1)
		c->af = AF_INET6;
	else
		return EINVAL;
	int max = c->af == AF_INET ? 32 : 128;
	c->prefix = max;
	if (slash) {
		char *end;
		long p = strtol(slash, &end, 10);
		if (!*slash || *end || p < 0 || p > max)
			return EINVAL;
		c->prefix = (int)p;
	}
	/* ::ffff:a.b.c.d/N is IPv4 written as IPv6: sources are compared as IPv4
	 * (cidr_match unmaps them), so is the rule. Shorter than /96 it would span
	 * more than the mapped space: refused. */
	if (c->af == AF_INET6 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)c->addr)) {
		if (c->prefix < 96)
			return EINVAL;
		memmove(c->addr, c->addr + 12, 4);
		memset(c->addr + 4, 0, 12);
		c->af = AF_INET;
		c->prefix -= 96;
	}
	return 0;
}

static bool cidr_match(const struct cidr *c, const struct sa *a)
{
	const uint8_t *b;
	int af = sa_af(a);
	struct in6_addr v4m;
	if (af == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->u.in6.sin6_addr)) {
		memcpy(&v4m, &a->u.in6.sin6_addr, sizeof(v4m));
		b = v4m.s6_addr + 12;
		af = AF_INET;
	} else {
		b = af == AF_INET ? (const uint8_t *)&a->u.in.sin_addr : a->u.in6.sin6_addr.s6_addr;
	}
	if (af != c->af)
		return false;
	int full = c->prefix / 8, rest = c->prefix % 8;
	if (memcmp(b, c->addr, (size_t)full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (b[full] & mask) == (c->addr[full] & mask);
}

/* Splits a comma-separated option into trimmed items. */
static int each_item(const char *list, int (*fn)(const char *item, void *arg), void *arg)
{
	const char *p = list;
	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char item[128];
		while (n && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (n >= sizeof(item))
			return EINVAL;
		memcpy(item, p, n);
		item[n] = '\0';
		if (n) {
			int e = fn(item, arg);
			if (e)
				return e;
		}
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

static int add_trusted(const char *item, void *arg)
{
	struct security *s = arg;
	if (s->ntrusted == MAX_TRUSTED || cidr_parse(item, &s->trusted[s->ntrusted])) {
		log_error("trusted-addresses: '%s' is not an address or CIDR (at most %d)", item, MAX_TRUSTED);
		return EINVAL;
	}
	s->ntrusted++;
	return 0;
}

static int add_ua(const char *item, void *arg)
{
	struct security *s = arg;
	if (s->nuas == MAX_UAS)
		return EINVAL;
	char *u = strdup(item);
	if (!u)
		return ENOMEM;
	for (char *p = u; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	s->uas[s->nuas++] = u;
	return 0;
}

int security_alloc(struct security **sp, const struct conf *conf, security_clock_h *now, void *now_arg)
{
	struct security *s = mem_zalloc(sizeof(*s), sec_destroy);
	if (!s)
		return ENOMEM;
	s->now = now;
	s->now_arg = now_arg;
	s->max_failures = (int)conf_int(conf, "auth-max-failures");
	s->window_ms = (uint64_t)conf_int(conf, "auth-window") * 1000;
	s->ban_ms = (uint64_t)conf_int(conf, "auth-ban-time") * 1000;
	int e = hash_init(&s->sources, 4096) ? ENOMEM : 0;
	if (!e)
		e = each_item(conf_str(conf, "trusted-addresses"), add_trusted, s);
	if (!e && each_item(conf_str(conf, "blocked-user-agents"), add_ua, s)) {
		log_error("blocked-user-agents: at most %d items of at most 127 characters", MAX_UAS);
		e = EINVAL;
	}
	uint32_t rate = (uint32_t)conf_int(conf, "sip-source-rate");
	if (!e && rate)
		e = sip_stack_limit_alloc(&s->rate, rate, (uint32_t)conf_int(conf, "sip-source-burst"));
	if (e) {
		mem_deref(s);
		return e;
	}
	*sp = s;
	return 0;
}

bool security_trusted(const struct security *s, const struct sa *addr)
{
	for (size_t i = 0; i < s->ntrusted; i++) {
		if (cidr_match(&s->trusted[i], addr))
			return true;
	}
	return false;
}

static void source_text(uint8_t af, uint64_t key, char *buf, size_t size, int *prefix)
{
	if (af == 4) {
		struct in_addr a = { htonl((uint32_t)key) };
		inet_ntop(AF_INET, &a, buf, (socklen_t)size);
		*prefix = 32;
		return;
	}
	struct in6_addr a6 = { 0 };
	for (int i = 0; i < 8; i++)
		a6.s6_addr[i] = (uint8_t)(key >> (56 - 8 * i));
	inet_ntop(AF_INET6, &a6, buf, (socklen_t)size);
	*prefix = 64;
}

bool security_auth_failed(struct security *s, const struct sa *addr, const char *who)
{
	uint64_t key, now = s->now(s->now_arg);
	uint8_t af = sa_source_key(addr, &key);
	if (!af || security_trusted(s, addr))
		return false;
	struct source *x = source_find(s, af, key);
	if (!x) {
		if (!make_room(s, now))
			return false;
		x = calloc(1, sizeof(*x));
		if (!x)
			return false;
		x->af = af;
		x->key = key;
		x->window_start = now;
		hash_insert(&s->sources, source_hash(af, key), &x->le_hash, x);
		s->nsources++;
	} else {
		list_unlink(&x->le_lru);
	}
	list_append(&s->lru, &x->le_lru, x);
	if (is_banned(s, x, now))
		return false;
	if (x->banned_until) {
		/* A ban served wipes the slate: the next failures count from zero. */
		x->banned_until = 0;
		x->failures = 0;
		x->window_start = now;
	}
	if (now - x->window_start >= s->window_ms) {
		x->window_start = now;
		x->failures = 0;
	}
	if (++x->failures < s->max_failures)
		return false;
	x->banned_until = now + s->ban_ms;
	x->banned_at = store_now_ms();
	char a[64];
	int prefix;
	source_text(af, key, a, sizeof(a), &prefix);
	log_warn("security: %s/%d banned for %llu s after %d failed authentications (the last for %s)", a, prefix,
		 (unsigned long long)(s->ban_ms / 1000), x->failures, who);
	return true;
}

bool security_banned(struct security *s, const struct sa *addr)
{
	uint64_t key;
	uint8_t af = sa_source_key(addr, &key);
	struct source *x = af ? source_find(s, af, key) : NULL;
	return x && is_banned(s, x, s->now(s->now_arg));
}

static bool ua_blocked(const struct security *s, const struct sip_msg *req)
{
	if (!s->nuas)
		return false;
	const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_USER_AGENT);
	if (!h || !h->val.l)
		return false;
	char ua[1024]; /* past this, a User-Agent is not a phone's */
	size_t n = h->val.l < sizeof(ua) - 1 ? h->val.l : sizeof(ua) - 1;
	for (size_t i = 0; i < n; i++)
		ua[i] = (char)tolower((unsigned char)h->val.p[i]);
	ua[n] = '\0';
	for (size_t i = 0; i < s->nuas; i++) {
		if (strstr(ua, s->uas[i]))
			return true;
	}
	return false;
}

bool security_filter(const struct sip_msg *req, void *arg)
{
	struct security *s = arg;
	const struct sa *src = &req->src.addr;
	if (security_trusted(s, src))
		return true;
	if (security_banned(s, src))
		return false;
	if (ua_blocked(s, req)) {
		char a[64];
		log_info("security: request from %s dropped: blocked User-Agent", sa_str(src, a, sizeof(a)));
		return false;
	}
	bool newly = false;
	if (s->rate && !sip_stack_limit_take(s->rate, src, s->now(s->now_arg), &newly)) {
		if (newly) {
			char a[64];
			log_warn("security: %s sends more than its rate of requests: dropped until it slows down",
				 sa_str(src, a, sizeof(a)));
		}
		return false;
	}
	return true;
}

size_t security_bans(struct security *s, struct security_ban *out, size_t max)
{
	uint64_t now = s->now(s->now_arg);
	int64_t wall = store_now_ms();
	size_t n = 0;
	LIST_FOREACH(&s->lru, le) {
		struct source *x = le->data;
		if (!is_banned(s, x, now))
			continue;
		if (n < max) {
			struct security_ban *b = &out[n];
			source_text(x->af, x->key, b->address, sizeof(b->address), &b->prefix);
			b->failures = x->failures;
			b->banned_at = x->banned_at;
			b->until = wall + (int64_t)(x->banned_until - now);
		}
		n++;
	}
	return n;
}

static int source_of(const char *address, uint8_t *af, uint64_t *key)
{
	struct sa sa;
	if (!address || sa_set(&sa, address, 0))
		return EINVAL;
	*af = sa_source_key(&sa, key);
	return *af ? 0 : EINVAL;
}

int security_unban(struct security *s, const char *address)
{
	uint8_t af;
	uint64_t key;
	if (source_of(address, &af, &key))
		return EINVAL;
	struct source *x = source_find(s, af, key);
	if (!x || !is_banned(s, x, s->now(s->now_arg)))
		return ENOENT;
	log_info("security: ban of %s lifted", address);
	source_free(s, x);
	return 0;
}

int security_ban(struct security *s, const char *address)
{
	uint8_t af;
	uint64_t key;
	struct sa sa;
	if (source_of(address, &af, &key) || sa_set(&sa, address, 0))
		return EINVAL;
	for (int i = s->max_failures; i > 0 && !security_banned(s, &sa); i--)
		security_auth_failed(s, &sa, "(administrator)");
	return security_banned(s, &sa) ? 0 : EINVAL;
}
