/* SIP URI and parameter-list parsing (RFC 3261 §19.1, §25.1; RFC 5118 for IPv6).
 * The grammar is checked strictly enough that a malformed Request-URI gets a 400,
 * but every part stays a slice of the caller's text. */
#include "sip/uri.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum {
	C_ALNUM = 1,    /* letters and digits */
	C_MARK = 2,     /* - _ . ! ~ * ' ( ) */
	C_USER = 4,     /* & = + $ , ; ? /   (user-unreserved) */
	C_PASS = 8,     /* & = + $ ,         (password) */
	C_PARAM = 16,   /* [ ] / : & + $     (param-unreserved) */
	C_HNV = 32,     /* [ ] / ? : + $     (hnv-unreserved) */
	C_TOKEN = 64,   /* token: alnum - . ! % * _ + ` ' ~ */
};

static unsigned char ctab[256];

static void ctab_set(const char *s, unsigned char bit)
{
	for (; *s; s++)
		ctab[(unsigned char)*s] |= bit;
}

static void ctab_build(void)
{
	for (int c = 0; c < 256; c++) {
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			ctab[c] |= C_ALNUM | C_TOKEN;
	}
	ctab_set("-_.!~*'()", C_MARK);
	ctab_set("&=+$,;?/", C_USER);
	ctab_set("&=+$,", C_PASS);
	ctab_set("[]/:&+$", C_PARAM);
	ctab_set("[]/?:+$", C_HNV);
	ctab_set("-.!%*_+`'~", C_TOKEN);
}

/* Built once, before any thread parses (pthread_once makes that safe anywhere). */
static void ctab_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, ctab_build);
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Every char is unreserved, in the extra class, or a valid %XX escape. */
static bool chars_ok(const struct pl *pl, unsigned char extra)
{
	for (size_t i = 0; i < pl->l; i++) {
		unsigned char c = (unsigned char)pl->p[i];
		if (ctab[c] & (C_ALNUM | C_MARK | extra))
			continue;
		if (c == '%' && i + 2 < pl->l && is_hex(pl->p[i + 1]) && is_hex(pl->p[i + 2])) {
			i += 2;
			continue;
		}
		return false;
	}
	return true;
}

bool sip_token_char(char c)
{
	ctab_init();
	return (ctab[(unsigned char)c] & C_TOKEN) != 0;
}

bool sip_token_ok(const struct pl *pl)
{
	ctab_init();
	if (!pl->l)
		return false;
	for (size_t i = 0; i < pl->l; i++) {
		if (!(ctab[(unsigned char)pl->p[i]] & C_TOKEN))
			return false;
	}
	return true;
}

int sip_host_parse(const struct pl *host, struct pl *out, int *af)
{
	ctab_init();
	char buf[64];
	if (!host->l)
		return EBADMSG;
	if (host->p[0] == '[') {
		if (host->l < 3 || host->p[host->l - 1] != ']' || host->l - 2 >= sizeof(buf))
			return EBADMSG;
		struct pl in = pl_from(host->p + 1, host->l - 2);
		struct in6_addr a6;
		if (inet_pton(AF_INET6, pl_strcpy(&in, buf, sizeof(buf)), &a6) != 1)
			return EBADMSG;
		*out = in;
		*af = AF_INET6;
		return 0;
	}
	bool digits_dots = true;
	for (size_t i = 0; i < host->l; i++) {
		char c = host->p[i];
		if (!(ctab[(unsigned char)c] & C_ALNUM) && c != '-' && c != '.' && c != '_')
			return EBADMSG;
		if (!((c >= '0' && c <= '9') || c == '.'))
			digits_dots = false;
	}
	if (host->p[0] == '.' || host->p[0] == '-')
		return EBADMSG;
	*out = *host;
	*af = 0;
	if (digits_dots) {
		struct in_addr a4;
		if (host->l >= sizeof(buf) || inet_pton(AF_INET, pl_strcpy(host, buf, sizeof(buf)), &a4) != 1)
			return EBADMSG;
		*af = AF_INET;
	}
	return 0;
}

/* hostport: host [":" port]; the host may be an [IPv6] reference. */
int sip_hostport_parse(const struct pl *hp, struct pl *host, int *af, uint16_t *port)
{
	struct pl h = *hp, p = PL_INIT;
	if (hp->l && hp->p[0] == '[') {
		long rb = pl_chr(hp, ']');
		if (rb < 0)
			return EBADMSG;
		h.l = (size_t)rb + 1;
		if ((size_t)rb + 1 < hp->l) {
			if (hp->p[rb + 1] != ':')
				return EBADMSG;
			p = pl_from(hp->p + rb + 2, hp->l - (size_t)rb - 2);
		}
	} else {
		long colon = pl_chr(hp, ':');
		if (colon >= 0) {
			h.l = (size_t)colon;
			p = pl_from(hp->p + colon + 1, hp->l - (size_t)colon - 1);
		}
	}
	*port = 0;
	if (p.p) {
		uint64_t v;
		if (pl_u64(&p, 65535, &v) || v == 0)
			return EBADMSG;
		*port = (uint16_t)v;
	}
	return sip_host_parse(&h, host, af);
}

static int scheme_parse(const struct pl *pl, struct pl *scheme, struct pl *rest)
{
	long colon = pl_chr(pl, ':');
	if (colon <= 0)
		return EBADMSG;
	*scheme = pl_from(pl->p, (size_t)colon);
	char c0 = pl->p[0];
	if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z')))
		return EBADMSG;
	for (long i = 1; i < colon; i++) {
		char c = pl->p[i];
		if (!(ctab[(unsigned char)c] & C_ALNUM) && c != '+' && c != '-' && c != '.')
			return EBADMSG;
	}
	*rest = pl_from(pl->p + colon + 1, pl->l - (size_t)colon - 1);
	return 0;
}

static bool has_space(const struct pl *pl)
{
	for (size_t i = 0; i < pl->l; i++) {
		unsigned char c = (unsigned char)pl->p[i];
		if (c <= ' ' || c == 0x7f)
			return true;
	}
	return false;
}

static int uri_params_check(const struct pl *params)
{
	struct pl cur = *params, name, val;
	int err;
	while ((err = sip_param_next(&cur, &name, &val)) == 0) {
		if (!chars_ok(&name, C_PARAM) || !chars_ok(&val, C_PARAM))
			return EBADMSG;
	}
	return err == ENOENT ? 0 : EBADMSG;
}

int sip_uri_parse(struct sip_uri *uri, const struct pl *pl)
{
	ctab_init();
	memset(uri, 0, sizeof(*uri));
	struct pl rest;
	if (!pl->l || has_space(pl) || scheme_parse(pl, &uri->scheme, &rest))
		return EBADMSG;
	if (pl_caseeq_str(&uri->scheme, "sip"))
		uri->scheme_id = SIP_SCHEME_SIP;
	else if (pl_caseeq_str(&uri->scheme, "sips"))
		uri->scheme_id = SIP_SCHEME_SIPS;
	else {
		uri->scheme_id = pl_caseeq_str(&uri->scheme, "tel") ? SIP_SCHEME_TEL : SIP_SCHEME_OTHER;
		if (!rest.l)
			return EBADMSG;
		uri->opaque = rest;
		return 0;
	}

	/* userinfo ends at the first '@': neither host, params nor headers may hold one. */
	long at = pl_chr(&rest, '@');
	if (at >= 0) {
		struct pl ui = pl_from(rest.p, (size_t)at);
		long colon = pl_chr(&ui, ':');
		if (colon >= 0) {
			uri->user = pl_from(ui.p, (size_t)colon);
			uri->password = pl_from(ui.p + colon + 1, ui.l - (size_t)colon - 1);
		} else {
			uri->user = ui;
		}
		if (!uri->user.l || !chars_ok(&uri->user, C_USER) || !chars_ok(&uri->password, C_PASS))
			return EBADMSG;
		rest = pl_from(rest.p + at + 1, rest.l - (size_t)at - 1);
	}

	/* headers after '?', params after the first ';' of what remains */
	long q = pl_chr(&rest, '?');
	if (q >= 0) {
		uri->headers = pl_from(rest.p + q + 1, rest.l - (size_t)q - 1);
		rest.l = (size_t)q;
		if (!chars_ok(&uri->headers, C_HNV | C_PASS))
			return EBADMSG;
	}
	long semi = pl_chr(&rest, ';');
	struct pl hp = rest;
	if (semi >= 0) {
		hp.l = (size_t)semi;
		uri->params = pl_from(rest.p + semi, rest.l - (size_t)semi);
		if (uri_params_check(&uri->params))
			return EBADMSG;
	}
	return sip_hostport_parse(&hp, &uri->host, &uri->af, &uri->port);
}

int sip_uri_unescape(const struct pl *in, char *out, size_t size, size_t *len)
{
	size_t n = 0;
	for (size_t i = 0; i < in->l; i++) {
		char c = in->p[i];
		if (c == '%') {
			if (i + 2 >= in->l || !is_hex(in->p[i + 1]) || !is_hex(in->p[i + 2]))
				return EBADMSG;
			char h[3] = { in->p[i + 1], in->p[i + 2], 0 };
			c = (char)strtol(h, NULL, 16);
			i += 2;
		}
		if (n >= size)
			return ENOSPC;
		out[n++] = c;
	}
	*len = n;
	return 0;
}

int sip_uri_print(struct mbuf *mb, const struct sip_uri *uri)
{
	int err = mbuf_write_pl(mb, &uri->scheme);
	err |= mbuf_write_str(mb, ":");
	if (uri->opaque.p)
		return err | mbuf_write_pl(mb, &uri->opaque);
	if (uri->user.l) {
		err |= mbuf_write_pl(mb, &uri->user);
		if (uri->password.p)
			err |= mbuf_printf(mb, ":%.*s", (int)uri->password.l, uri->password.p);
		err |= mbuf_write_str(mb, "@");
	}
	if (uri->af == AF_INET6)
		err |= mbuf_printf(mb, "[%.*s]", (int)uri->host.l, uri->host.p);
	else
		err |= mbuf_write_pl(mb, &uri->host);
	if (uri->port)
		err |= mbuf_printf(mb, ":%u", uri->port);
	err |= mbuf_write_pl(mb, &uri->params);
	if (uri->headers.p)
		err |= mbuf_printf(mb, "?%.*s", (int)uri->headers.l, uri->headers.p);
	return err ? EMSGSIZE : 0;
}

static void skip_lws(struct pl *c)
{
	while (c->l && pl_is_lws(*c->p)) {
		c->p++;
		c->l--;
	}
}

/* Reads a token-ish run (stops at LWS, ';', '=', ',', or a quote). */
static struct pl take_word(struct pl *c)
{
	struct pl w = { c->p, 0 };
	while (c->l && !pl_is_lws(*c->p) && *c->p != ';' && *c->p != '=' && *c->p != '"') {
		c->p++;
		c->l--;
		w.l++;
	}
	return w;
}

int sip_param_next(struct pl *cursor, struct pl *name, struct pl *val)
{
	ctab_init();
	struct pl c = *cursor;
	skip_lws(&c);
	if (!c.l)
		return ENOENT;
	if (*c.p != ';')
		return EBADMSG;
	c.p++;
	c.l--;
	skip_lws(&c);
	*name = take_word(&c);
	if (!sip_token_ok(name) && !chars_ok(name, C_PARAM))
		return EBADMSG;
	if (!name->l)
		return EBADMSG;
	*val = (struct pl){ name->p + name->l, 0 };
	skip_lws(&c);
	if (c.l && *c.p == '=') {
		c.p++;
		c.l--;
		skip_lws(&c);
		if (c.l && *c.p == '"') {
			/* quoted-string: backslash escapes one char; must close */
			size_t i = 1;
			for (; i < c.l; i++) {
				if (c.p[i] == '\\')
					i++;
				else if (c.p[i] == '"')
					break;
			}
			if (i >= c.l)
				return EBADMSG;
			*val = pl_from(c.p, i + 1);
			c.p += i + 1;
			c.l -= i + 1;
		} else {
			*val = take_word(&c);
			if (!val->l)
				return EBADMSG;
		}
		skip_lws(&c);
	}
	if (c.l && *c.p != ';')
		return EBADMSG;
	*cursor = c;
	return 0;
}

int sip_params_check(const struct pl *params)
{
	struct pl cur = *params, n, v;
	int err;
	while ((err = sip_param_next(&cur, &n, &v)) == 0)
		;
	return err == ENOENT ? 0 : EBADMSG;
}

int sip_param_get(const struct pl *params, const char *name, struct pl *val)
{
	struct pl cur = *params, n, v;
	while (sip_param_next(&cur, &n, &v) == 0) {
		if (pl_caseeq_str(&n, name)) {
			*val = v;
			return 0;
		}
	}
	return ENOENT;
}

bool sip_param_exists(const struct pl *params, const char *name)
{
	struct pl v;
	return sip_param_get(params, name, &v) == 0;
}
