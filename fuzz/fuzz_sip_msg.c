/* libFuzzer target for the SIP message parser (src/sip/msg.c, hdr.c, print.c).
 *
 * The input is parsed twice, as a datagram (flags 0) and as a framed stream
 * message (SIP_PARSE_STREAM). Whatever parses, fully or far enough to be
 * answered, then goes through the lazy decoders a request handler would use:
 * every value of every header, name-addr/addr-spec on the address headers, Via
 * on each Via value, parameter lookups, the Request-URI's parameters. Last, a
 * message that parsed is printed back with sip_msg_print() and parsed again: the
 * printer's output must be a message the parser accepts with the same shape
 * (parse -> print -> parse), so a divergence between the two aborts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/msg.h"
#include "sip/print.h"
#include "sip/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the parser's API; checked in every build type (assert() is
 * compiled out with -Db_ndebug=true). */
static void require(bool ok)
{
	if (!ok)
		abort();
}

/* A sink the compiler cannot drop, so decoded slices are really read. */
static volatile size_t sink;

static void touch(const struct pl *pl)
{
	if (pl->p && pl->l)
		sink += (unsigned char)pl->p[0] + (unsigned char)pl->p[pl->l - 1] + pl->l;
}

static void params_walk(const struct pl *params)
{
	static const char *const names[] = { "tag", "branch", "received", "rport", "maddr", "transport",
					     "lr", "expires", "q", "user", "ttl", "method" };
	struct pl cur = *params, name, val;
	while (sip_param_next(&cur, &name, &val) == 0) {
		touch(&name);
		touch(&val);
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (sip_param_get(params, names[i], &val) == 0)
			touch(&val);
		sink += sip_param_exists(params, names[i]);
	}
	sink += (size_t)sip_params_check(params);
}

static void uri_walk(const struct sip_uri *uri)
{
	char buf[512];
	size_t n;
	touch(&uri->host);
	params_walk(&uri->params);
	if (sip_uri_unescape(&uri->user, buf, sizeof(buf), &n) == 0)
		sink += n;
}

static bool is_addr_hdr(enum sip_hdr_id id)
{
	switch (id) {
	case SIP_HDR_CONTACT: case SIP_HDR_ROUTE: case SIP_HDR_RECORD_ROUTE: case SIP_HDR_FROM:
	case SIP_HDR_TO: case SIP_HDR_PATH: case SIP_HDR_REPLY_TO: case SIP_HDR_REFER_TO:
	case SIP_HDR_REFERRED_BY: case SIP_HDR_P_ASSERTED_IDENTITY: case SIP_HDR_P_PREFERRED_IDENTITY:
		return true;
	default:
		return false;
	}
}

static void value_decode(enum sip_hdr_id id, const struct pl *v)
{
	touch(v);
	if (is_addr_hdr(id)) {
		struct sip_addr addr;
		if (sip_addr_parse(&addr, v, id == SIP_HDR_CONTACT) == 0) {
			touch(&addr.dname);
			params_walk(&addr.params);
			if (!addr.star)
				uri_walk(&addr.uri);
		}
	} else if (id == SIP_HDR_VIA) {
		struct sip_via via;
		if (sip_via_parse(&via, v) == 0) {
			touch(&via.host);
			params_walk(&via.params);
		}
	}
}

static void msg_walk(const struct sip_msg *msg)
{
	for (size_t i = 0; i < msg->hdrc; i++) {
		const struct sip_hdr *h = &msg->hdrs[i];
		struct pl cur = h->val, v;
		touch(&h->name);
		int err;
		while ((err = sip_hdr_value_next(&cur, &v)) == 0)
			value_decode(h->id, &v);
		require(err == ENOENT || err == EBADMSG);
		/* Single-valued headers are also decoded whole, as the stack does. */
		if (h->id == SIP_HDR_FROM || h->id == SIP_HDR_TO)
			value_decode(h->id, &h->val);
	}
	for (int id = SIP_HDR_OTHER + 1; id < SIP_HDR_COUNT; id++) {
		for (const struct sip_hdr *h = sip_msg_hdr(msg, id); h; h = sip_msg_hdr_next(msg, h))
			require(h->id == (enum sip_hdr_id)id);
	}
	sink += sip_msg_hdr_has_token(msg, SIP_HDR_REQUIRE, "100rel");
	sink += sip_msg_hdr_has_token(msg, SIP_HDR_SUPPORTED, "path");
	if (sip_msg_hdr_name(msg, "X-Fuzz"))
		sink++;
	if (msg->req && msg->ruri.scheme_id != SIP_SCHEME_OTHER)
		uri_walk(&msg->ruri);
	touch(&msg->via.branch);
	sink += sip_branch_is_3261(&msg->via.branch);
	touch(&msg->body);
}

/* parse -> print -> parse: the printed message parses to the same shape. */
static void reprint(const struct sip_msg *msg, int flags)
{
	struct mbuf *mb = mbuf_alloc(1024, 4 * SIP_MSG_MAX_SIZE);
	require(mb);
	int err = sip_msg_print(mb, msg);
	if (err || mb->end > SIP_MSG_MAX_SIZE) {
		mem_deref(mb); /* longer than the original (compact forms expanded) */
		return;
	}
	struct sip_msg *m2;
	struct sip_perr perr;
	err = sip_msg_parse(&m2, (const char *)mb->buf, mb->end, flags, &perr);
	if (err || !m2 || m2->req != msg->req || m2->hdrc != msg->hdrc || m2->mid != msg->mid ||
	    m2->scode != msg->scode || m2->body.l != msg->body.l || m2->nvia != msg->nvia)
		abort();
	msg_walk(m2);
	mem_deref(m2);
	mem_deref(mb);
}

static void parse_one(const uint8_t *data, size_t size, int flags)
{
	struct sip_msg *msg;
	struct sip_perr perr;
	int err = sip_msg_parse(&msg, (const char *)data, size, flags, &perr);
	if (err) {
		require(!msg || perr.scode);
		if (msg) /* a bad request still indexed well enough to be answered */
			msg_walk(msg);
		mem_deref(msg);
		return;
	}
	msg_walk(msg);
	reprint(msg, flags);
	mem_deref(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_one(data, size, 0);
	parse_one(data, size, SIP_PARSE_STREAM);
	return 0;
}
