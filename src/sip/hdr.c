/* Names of SIP methods and header fields (with RFC 3261 §7.3.3 compact forms),
 * and the decoders of the structured header values: Via, name-addr, lists. */
#include "sip/msg.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

static const char *const method_names[SIP_METHOD_COUNT] = {
	[SIP_INVITE] = "INVITE", [SIP_ACK] = "ACK", [SIP_BYE] = "BYE", [SIP_CANCEL] = "CANCEL",
	[SIP_OPTIONS] = "OPTIONS", [SIP_REGISTER] = "REGISTER", [SIP_PRACK] = "PRACK",
	[SIP_SUBSCRIBE] = "SUBSCRIBE", [SIP_NOTIFY] = "NOTIFY", [SIP_PUBLISH] = "PUBLISH",
	[SIP_INFO] = "INFO", [SIP_REFER] = "REFER", [SIP_MESSAGE] = "MESSAGE", [SIP_UPDATE] = "UPDATE",
};

enum sip_method sip_method_id(const struct pl *name)
{
	/* Methods are case-sensitive (RFC 3261 §7.1). */
	for (int m = 1; m < SIP_METHOD_COUNT; m++) {
		if (pl_eq_str(name, method_names[m]))
			return (enum sip_method)m;
	}
	return SIP_METHOD_OTHER;
}

const char *sip_method_name(enum sip_method m)
{
	return m > 0 && m < SIP_METHOD_COUNT ? method_names[m] : "";
}

struct hdr_name {
	const char *name;
	char compact;
};

static const struct hdr_name hdr_names[SIP_HDR_COUNT] = {
	[SIP_HDR_ACCEPT] = { "Accept", 0 },
	[SIP_HDR_ACCEPT_CONTACT] = { "Accept-Contact", 'a' },
	[SIP_HDR_ACCEPT_ENCODING] = { "Accept-Encoding", 0 },
	[SIP_HDR_ACCEPT_LANGUAGE] = { "Accept-Language", 0 },
	[SIP_HDR_ALERT_INFO] = { "Alert-Info", 0 },
	[SIP_HDR_ALLOW] = { "Allow", 0 },
	[SIP_HDR_ALLOW_EVENTS] = { "Allow-Events", 'u' },
	[SIP_HDR_AUTHENTICATION_INFO] = { "Authentication-Info", 0 },
	[SIP_HDR_AUTHORIZATION] = { "Authorization", 0 },
	[SIP_HDR_CALL_ID] = { "Call-ID", 'i' },
	[SIP_HDR_CALL_INFO] = { "Call-Info", 0 },
	[SIP_HDR_CONTACT] = { "Contact", 'm' },
	[SIP_HDR_CONTENT_DISPOSITION] = { "Content-Disposition", 0 },
	[SIP_HDR_CONTENT_ENCODING] = { "Content-Encoding", 'e' },
	[SIP_HDR_CONTENT_LANGUAGE] = { "Content-Language", 0 },
	[SIP_HDR_CONTENT_LENGTH] = { "Content-Length", 'l' },
	[SIP_HDR_CONTENT_TYPE] = { "Content-Type", 'c' },
	[SIP_HDR_CSEQ] = { "CSeq", 0 },
	[SIP_HDR_DATE] = { "Date", 0 },
	[SIP_HDR_EVENT] = { "Event", 'o' },
	[SIP_HDR_EXPIRES] = { "Expires", 0 },
	[SIP_HDR_FROM] = { "From", 'f' },
	[SIP_HDR_IDENTITY] = { "Identity", 'y' },
	[SIP_HDR_IN_REPLY_TO] = { "In-Reply-To", 0 },
	[SIP_HDR_MAX_FORWARDS] = { "Max-Forwards", 0 },
	[SIP_HDR_MIN_EXPIRES] = { "Min-Expires", 0 },
	[SIP_HDR_MIN_SE] = { "Min-SE", 0 },
	[SIP_HDR_MIME_VERSION] = { "MIME-Version", 0 },
	[SIP_HDR_ORGANIZATION] = { "Organization", 0 },
	[SIP_HDR_PATH] = { "Path", 0 },
	[SIP_HDR_P_ASSERTED_IDENTITY] = { "P-Asserted-Identity", 0 },
	[SIP_HDR_P_PREFERRED_IDENTITY] = { "P-Preferred-Identity", 0 },
	[SIP_HDR_PRIORITY] = { "Priority", 0 },
	[SIP_HDR_PRIVACY] = { "Privacy", 0 },
	[SIP_HDR_PROXY_AUTHENTICATE] = { "Proxy-Authenticate", 0 },
	[SIP_HDR_PROXY_AUTHORIZATION] = { "Proxy-Authorization", 0 },
	[SIP_HDR_PROXY_REQUIRE] = { "Proxy-Require", 0 },
	[SIP_HDR_RACK] = { "RAck", 0 },
	[SIP_HDR_REASON] = { "Reason", 0 },
	[SIP_HDR_RECORD_ROUTE] = { "Record-Route", 0 },
	[SIP_HDR_REFER_TO] = { "Refer-To", 'r' },
	[SIP_HDR_REFERRED_BY] = { "Referred-By", 'b' },
	[SIP_HDR_REJECT_CONTACT] = { "Reject-Contact", 'j' },
	[SIP_HDR_REPLACES] = { "Replaces", 0 },
	[SIP_HDR_REPLY_TO] = { "Reply-To", 0 },
	[SIP_HDR_REQUEST_DISPOSITION] = { "Request-Disposition", 'd' },
	[SIP_HDR_REQUIRE] = { "Require", 0 },
	[SIP_HDR_RETRY_AFTER] = { "Retry-After", 0 },
	[SIP_HDR_ROUTE] = { "Route", 0 },
	[SIP_HDR_RSEQ] = { "RSeq", 0 },
	[SIP_HDR_SERVER] = { "Server", 0 },
	[SIP_HDR_SESSION_EXPIRES] = { "Session-Expires", 'x' },
	[SIP_HDR_SUBJECT] = { "Subject", 's' },
	[SIP_HDR_SUBSCRIPTION_STATE] = { "Subscription-State", 0 },
	[SIP_HDR_SUPPORTED] = { "Supported", 'k' },
	[SIP_HDR_TIMESTAMP] = { "Timestamp", 0 },
	[SIP_HDR_TO] = { "To", 't' },
	[SIP_HDR_UNSUPPORTED] = { "Unsupported", 0 },
	[SIP_HDR_USER_AGENT] = { "User-Agent", 0 },
	[SIP_HDR_VIA] = { "Via", 'v' },
	[SIP_HDR_WARNING] = { "Warning", 0 },
	[SIP_HDR_WWW_AUTHENTICATE] = { "WWW-Authenticate", 0 },
};

/* Index by (lower-cased first letter) so a lookup compares a handful of names. */
static uint8_t by_letter[26][16];
static uint8_t by_letter_n[26];
static int8_t by_compact[26];
static uint8_t name_len[SIP_HDR_COUNT];

static void hdr_index_build(void)
{
	for (int id = 1; id < SIP_HDR_COUNT; id++) {
		int c = (hdr_names[id].name[0] | 0x20) - 'a';
		by_letter[c][by_letter_n[c]++] = (uint8_t)id; /* at most 13 share a letter */
		name_len[id] = (uint8_t)strlen(hdr_names[id].name);
		if (hdr_names[id].compact)
			by_compact[hdr_names[id].compact - 'a'] = (int8_t)id;
	}
}

static void hdr_index_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, hdr_index_build);
}

enum sip_hdr_id sip_hdr_id(const struct pl *name)
{
	hdr_index_init();
	if (!name->l)
		return SIP_HDR_OTHER;
	int c = (name->p[0] | 0x20) - 'a';
	if (c < 0 || c >= 26)
		return SIP_HDR_OTHER;
	if (name->l == 1)
		return (enum sip_hdr_id)by_compact[c];
	for (int i = 0; i < by_letter_n[c]; i++) {
		int id = by_letter[c][i];
		if (name_len[id] == name->l && strncasecmp(hdr_names[id].name, name->p, name->l) == 0)
			return (enum sip_hdr_id)id;
	}
	return SIP_HDR_OTHER;
}

const char *sip_hdr_name(enum sip_hdr_id id)
{
	return id > 0 && id < SIP_HDR_COUNT ? hdr_names[id].name : "";
}

int sip_hdr_value_next(struct pl *cursor, struct pl *val)
{
	struct pl c = *cursor;
	while (c.l && (pl_is_lws(*c.p)))
		c.p++, c.l--;
	if (!c.l)
		return ENOENT;
	bool quoted = false, angle = false;
	size_t i = 0;
	for (; i < c.l; i++) {
		char ch = c.p[i];
		if (quoted) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				quoted = false;
		} else if (ch == '"') {
			quoted = true;
		} else if (ch == '<') {
			angle = true;
		} else if (ch == '>') {
			angle = false;
		} else if (ch == ',' && !angle) {
			break;
		}
	}
	if (i > c.l)
		i = c.l;
	*val = pl_trim(pl_from(c.p, i));
	if (!val->l)
		return EBADMSG;
	if (i < c.l) {
		/* consume the comma; a trailing comma leaves an empty value: malformed */
		c.p += i + 1;
		c.l -= i + 1;
		if (!pl_trim(c).l)
			return EBADMSG;
	} else {
		c.p += c.l;
		c.l = 0;
	}
	*cursor = c;
	return 0;
}

const struct sip_hdr *sip_msg_hdr(const struct sip_msg *msg, enum sip_hdr_id id)
{
	if (id <= SIP_HDR_OTHER || id >= SIP_HDR_COUNT || !msg->first[id])
		return NULL;
	return &msg->hdrs[msg->first[id] - 1];
}

const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *msg, const struct sip_hdr *h)
{
	for (size_t i = (size_t)(h - msg->hdrs) + 1; i < msg->hdrc; i++) {
		if (msg->hdrs[i].id == h->id && (h->id != SIP_HDR_OTHER || pl_caseeq(&msg->hdrs[i].name, &h->name)))
			return &msg->hdrs[i];
	}
	return NULL;
}

const struct sip_hdr *sip_msg_hdr_name(const struct sip_msg *msg, const char *name)
{
	struct pl n = pl_cstr(name);
	enum sip_hdr_id id = sip_hdr_id(&n);
	if (id != SIP_HDR_OTHER)
		return sip_msg_hdr(msg, id);
	for (size_t i = 0; i < msg->hdrc; i++) {
		if (msg->hdrs[i].id == SIP_HDR_OTHER && pl_caseeq(&msg->hdrs[i].name, &n))
			return &msg->hdrs[i];
	}
	return NULL;
}

int sip_msg_hdr_apply(const struct sip_msg *msg, enum sip_hdr_id id, sip_hdr_value_h *h, void *arg)
{
	for (const struct sip_hdr *hd = sip_msg_hdr(msg, id); hd; hd = sip_msg_hdr_next(msg, hd)) {
		struct pl cur = hd->val, v;
		int err;
		while ((err = sip_hdr_value_next(&cur, &v)) == 0) {
			int r = h(&v, arg);
			if (r)
				return r;
		}
		if (err != ENOENT)
			return err;
	}
	return 0;
}

struct token_find {
	const char *token;
};

static int token_cmp(const struct pl *val, void *arg)
{
	struct token_find *tf = arg;
	return pl_caseeq_str(val, tf->token) ? 1 : 0;
}

bool sip_msg_hdr_has_token(const struct sip_msg *msg, enum sip_hdr_id id, const char *token)
{
	struct token_find tf = { token };
	return sip_msg_hdr_apply(msg, id, token_cmp, &tf) == 1;
}

bool sip_branch_is_3261(const struct pl *branch)
{
	return branch->l > 7 && strncmp(branch->p, "z9hG4bK", 7) == 0;
}

/* Reads a token with SWS around it, up to (not including) stop. */
static int via_part(struct pl *c, char stop, struct pl *out)
{
	while (c->l && pl_is_lws(*c->p))
		c->p++, c->l--;
	out->p = c->p;
	out->l = 0;
	while (c->l && sip_token_char(*c->p)) {
		c->p++, c->l--;
		out->l++;
	}
	while (c->l && pl_is_lws(*c->p))
		c->p++, c->l--;
	if (!out->l)
		return EBADMSG;
	if (stop) {
		if (!c->l || *c->p != stop)
			return EBADMSG;
		c->p++, c->l--;
	}
	return 0;
}

int sip_via_parse(struct sip_via *via, const struct pl *val)
{
	memset(via, 0, sizeof(*via));
	via->val = *val;
	struct pl c = *val, name, ver;
	if (via_part(&c, '/', &name) || via_part(&c, '/', &ver))
		return EBADMSG;
	if (!pl_caseeq_str(&name, "SIP") || !pl_eq_str(&ver, "2.0"))
		return EBADMSG;
	/* transport, then LWS, then sent-by up to ';' or LWS */
	while (c.l && pl_is_lws(*c.p))
		c.p++, c.l--;
	via->transport.p = c.p;
	while (c.l && sip_token_char(*c.p))
		c.p++, c.l--, via->transport.l++;
	if (!via->transport.l || !c.l || !pl_is_lws(*c.p))
		return EBADMSG;
	while (c.l && pl_is_lws(*c.p))
		c.p++, c.l--;
	via->sentby.p = c.p;
	while (c.l && *c.p != ';' && !pl_is_lws(*c.p))
		c.p++, c.l--, via->sentby.l++;
	if (sip_hostport_parse(&via->sentby, &via->host, &via->af, &via->port))
		return EBADMSG;
	via->params = c;
	struct pl cur = c, n, v;
	int err;
	while ((err = sip_param_next(&cur, &n, &v)) == 0) {
		if (pl_caseeq_str(&n, "branch")) {
			if (!v.l)
				return EBADMSG;
			via->branch = v;
		} else if (pl_caseeq_str(&n, "received")) {
			via->received = v;
		} else if (pl_caseeq_str(&n, "rport")) {
			via->has_rport = true;
			via->rport = v;
		} else if (pl_caseeq_str(&n, "maddr")) {
			via->maddr = v;
		}
	}
	return err == ENOENT ? 0 : EBADMSG;
}

/* display-name = *(token LWS) / quoted-string (RFC 3261 §25.1) */
static int dname_check(const struct pl *dn)
{
	struct pl d = pl_trim(*dn);
	if (!d.l)
		return 0;
	if (d.p[0] == '"') {
		size_t i = 1;
		for (; i < d.l; i++) {
			if (d.p[i] == '\\')
				i++;
			else if (d.p[i] == '"')
				break;
		}
		return i == d.l - 1 ? 0 : EBADMSG;
	}
	for (size_t i = 0; i < d.l; i++) {
		if (!sip_token_char(d.p[i]) && !pl_is_lws(d.p[i]))
			return EBADMSG;
	}
	return 0;
}

int sip_addr_parse(struct sip_addr *addr, const struct pl *val, bool allow_star)
{
	memset(addr, 0, sizeof(*addr));
	struct pl v = pl_trim(*val);
	if (!v.l)
		return EBADMSG;
	if (allow_star && v.l == 1 && v.p[0] == '*') {
		addr->star = true;
		return 0;
	}
	/* find '<' outside a quoted display name */
	size_t i = 0;
	bool quoted = false;
	for (; i < v.l; i++) {
		char ch = v.p[i];
		if (quoted) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				quoted = false;
		} else if (ch == '"') {
			quoted = true;
		} else if (ch == '<' || ch == ';') {
			break;
		}
	}
	if (quoted)
		return EBADMSG;
	struct pl rest;
	if (i < v.l && v.p[i] == '<') {
		addr->dname = pl_trim(pl_from(v.p, i));
		if (dname_check(&addr->dname))
			return EBADMSG;
		struct pl after = pl_from(v.p + i + 1, v.l - i - 1);
		long gt = pl_chr(&after, '>');
		if (gt < 0)
			return EBADMSG;
		/* LWS just inside the brackets is tolerated (RFC 4475 §3.1.2.14). */
		addr->auri = pl_trim(pl_from(after.p, (size_t)gt));
		rest = pl_from(after.p + gt + 1, after.l - (size_t)gt - 1);
	} else {
		/* addr-spec: the URI ends at the first ';' or LWS; the rest are header params */
		size_t j = 0;
		while (j < v.l && v.p[j] != ';' && !pl_is_lws(v.p[j]))
			j++;
		addr->auri = pl_from(v.p, j);
		rest = pl_from(v.p + j, v.l - j);
	}
	if (sip_uri_parse(&addr->uri, &addr->auri))
		return EBADMSG;
	addr->params = rest;
	struct pl cur = rest, n, pv;
	int err;
	while ((err = sip_param_next(&cur, &n, &pv)) == 0) {
		if (pl_caseeq_str(&n, "tag")) {
			if (!pv.l)
				return EBADMSG;
			addr->tag = pv;
		}
	}
	return err == ENOENT ? 0 : EBADMSG;
}
