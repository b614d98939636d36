/* SIP message parsing (RFC 3261 §7, §18.3 framing). One pass finds the start line
 * and indexes header lines in place; then the fields every transaction needs are
 * decoded and checked. Each failure carries the status to answer and a reason
 * phrase that says what was wrong. */
#include "sip/msg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"

#define PERR(code, why) (perr->scode = (code), perr->reason = (why), EBADMSG)

static bool is_ws(char c) { return c == ' ' || c == '\t'; }

/* Returns the end of the line starting at p (pointing at CR or LF), or end. */
static const char *line_end(const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	if (!lf)
		return end;
	return (lf > p && lf[-1] == '\r') ? lf - 1 : lf;
}

static const char *next_line(const char *le, const char *end)
{
	if (le < end && *le == '\r')
		le++;
	if (le < end && *le == '\n')
		le++;
	return le;
}

/* Splits the start line on runs of SP (multiple SP tolerated, RFC 4475 §3.1.2.9). */
static size_t split_sp(struct pl line, struct pl *parts, size_t max, bool rest_last)
{
	size_t n = 0;
	while (line.l && n < max) {
		while (line.l && *line.p == ' ')
			line.p++, line.l--;
		if (!line.l)
			break;
		if (rest_last && n == max - 1) {
			parts[n++] = line;
			break;
		}
		const char *sp = memchr(line.p, ' ', line.l);
		size_t l = sp ? (size_t)(sp - line.p) : line.l;
		parts[n++] = pl_from(line.p, l);
		line.p += l;
		line.l -= l;
	}
	/* a part beyond max means too many */
	while (line.l && *line.p == ' ')
		line.p++, line.l--;
	return line.l && !rest_last ? max + 1 : n;
}

static bool version_ok(const struct pl *v)
{
	return pl_caseeq_str(v, "SIP/2.0");
}

static bool version_like(const struct pl *v)
{
	return v->l > 4 && strncasecmp(v->p, "SIP/", 4) == 0;
}

static int start_line_parse(struct sip_msg *msg, struct pl line, struct sip_perr *perr, bool *badver)
{
	struct pl p[3];
	if (line.l > 4 && strncmp(line.p, "SIP/", 4) == 0) {
		msg->req = false;
		if (split_sp(line, p, 3, true) < 2 || !version_ok(&p[0]))
			return PERR(0, "Bad status line");
		uint64_t code;
		if (p[1].l != 3 || pl_u64(&p[1], 699, &code) || code < 100)
			return PERR(0, "Bad status code");
		msg->scode = (uint16_t)code;
		msg->reason = split_sp(line, p, 3, true) == 3 ? p[2] : pl_from(p[1].p + 3, 0);
		return 0;
	}
	msg->req = true;
	/* trailing SP is tolerated (RFC 4475 §3.1.2.10) */
	while (line.l && line.p[line.l - 1] == ' ')
		line.l--;
	size_t n = split_sp(line, p, 3, false);
	if (n < 1 || !sip_token_ok(&p[0]))
		return PERR(0, "Bad request line");
	msg->method = p[0];
	msg->mid = sip_method_id(&p[0]);
	if (n != 3)
		return PERR(400, "Bad Request-Line");
	msg->ruri_raw = p[1];
	if (!version_ok(&p[2])) {
		if (!version_like(&p[2]))
			return PERR(400, "Bad SIP version");
		*badver = true;
	}
	return 0;
}

/* Headers whose repetition makes a request ambiguous (RFC 4475 §3.3.8). */
static bool single_valued(enum sip_hdr_id id)
{
	switch (id) {
	case SIP_HDR_CALL_ID: case SIP_HDR_CSEQ: case SIP_HDR_FROM: case SIP_HDR_TO:
	case SIP_HDR_MAX_FORWARDS: case SIP_HDR_CONTENT_LENGTH: case SIP_HDR_CONTENT_TYPE:
	case SIP_HDR_EXPIRES:
		return true;
	default:
		return false;
	}
}

/* Indexes header lines from p up to the empty line. Returns 0 and sets *body_start. */
static int headers_scan(struct sip_msg *msg, const char *p, const char *end, size_t maxh,
			const char **body_start, struct sip_perr *perr)
{
	struct sip_hdr *cur = NULL;
	while (p < end) {
		const char *le = line_end(p, end);
		if (le == p) { /* empty line */
			*body_start = next_line(le, end);
			return 0;
		}
		if (is_ws(*p)) { /* folded continuation of the previous header */
			if (!cur)
				return PERR(400, "Bad folded header line");
			cur->val.l = (size_t)(le - cur->val.p);
			p = next_line(le, end);
			continue;
		}
		if (msg->hdrc >= maxh)
			return PERR(400, "Too many header fields");
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (!colon)
			return PERR(400, "Header line without colon");
		struct pl name = pl_from(p, (size_t)(colon - p));
		while (name.l && is_ws(name.p[name.l - 1]))
			name.l--;
		if (!sip_token_ok(&name))
			return PERR(400, "Bad header name");
		cur = &msg->hdrs[msg->hdrc];
		cur->name = name;
		cur->val = pl_from(colon + 1, (size_t)(le - colon - 1));
		cur->id = sip_hdr_id(&name);
		if (cur->id != SIP_HDR_OTHER) {
			if (msg->first[cur->id] && single_valued(cur->id)) {
				snprintf(perr->text, sizeof(perr->text), "Multiple %s headers", sip_hdr_name(cur->id));
				msg->hdrc++;
				return PERR(400, perr->text);
			}
			if (!msg->first[cur->id])
				msg->first[cur->id] = (uint16_t)(msg->hdrc + 1);
		}
		msg->hdrc++;
		p = next_line(le, end);
	}
	/* No empty line: the datagram ended with the headers. */
	*body_start = end;
	return 0;
}

static int headers_index(struct sip_msg *msg, const char *p, const char *end, size_t maxh,
			 const char **body_start, struct sip_perr *perr)
{
	int err = headers_scan(msg, p, end, maxh, body_start, perr);
	/* Values were grown across folded lines; trim once they are complete. */
	for (size_t i = 0; i < msg->hdrc; i++)
		msg->hdrs[i].val = pl_trim(msg->hdrs[i].val);
	return err;
}

static int num_hdr(const struct sip_msg *msg, enum sip_hdr_id id, uint64_t max, uint64_t *out)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, id);
	if (!h)
		return ENOENT;
	struct pl v = pl_trim(h->val);
	return pl_u64(&v, max, out) ? EBADMSG : 0;
}

static int cseq_parse(struct sip_cseq *cs, const struct pl *val)
{
	struct pl v = pl_trim(*val);
	size_t i = 0;
	while (i < v.l && v.p[i] >= '0' && v.p[i] <= '9')
		i++;
	uint64_t n;
	struct pl num = pl_from(v.p, i);
	/* RFC 3261 §8.1.1.5: less than 2**31 */
	if (pl_u64(&num, 0x7fffffffu, &n))
		return EBADMSG;
	if (i >= v.l || !(v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == '\r' || v.p[i] == '\n'))
		return EBADMSG;
	cs->num = (uint32_t)n;
	cs->method = pl_trim(pl_from(v.p + i, v.l - i));
	if (!sip_token_ok(&cs->method))
		return EBADMSG;
	cs->mid = sip_method_id(&cs->method);
	return 0;
}

static int vias_parse(struct sip_msg *msg, struct sip_perr *perr)
{
	for (const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_VIA); h; h = sip_msg_hdr_next(msg, h)) {
		struct pl cur = h->val, v;
		int err;
		unsigned before = msg->nvia;
		while ((err = sip_hdr_value_next(&cur, &v)) == 0) {
			struct sip_via via;
			if (sip_via_parse(&via, &v))
				return PERR(400, "Bad Via header");
			if (++msg->nvia > SIP_MSG_MAX_VIAS)
				return PERR(400, "Too many Via headers");
			if (msg->nvia == 1)
				msg->via = via;
		}
		/* An empty "Via:" has no via-parm (RFC 3261 §20.42 needs one): without this
		 * it would pass as a Via while leaving msg->via unset. */
		if (err != ENOENT || msg->nvia == before)
			return PERR(400, "Bad Via header");
	}
	return 0;
}

/* Decodes and checks the fields every transaction relies on. */
static int essentials_parse(struct sip_msg *msg, struct sip_perr *perr)
{
	const struct sip_hdr *h;
	if (!sip_msg_hdr(msg, SIP_HDR_VIA))
		return PERR(400, "Missing Via header");
	int err = vias_parse(msg, perr);
	if (err)
		return err;
	if (!(h = sip_msg_hdr(msg, SIP_HDR_FROM)))
		return PERR(400, "Missing From header");
	if (sip_addr_parse(&msg->from, &h->val, false))
		return PERR(400, "Bad From header");
	if (!(h = sip_msg_hdr(msg, SIP_HDR_TO)))
		return PERR(400, "Missing To header");
	if (sip_addr_parse(&msg->to, &h->val, false))
		return PERR(400, "Bad To header");
	if (!(h = sip_msg_hdr(msg, SIP_HDR_CALL_ID)))
		return PERR(400, "Missing Call-ID header");
	msg->callid = pl_trim(h->val);
	if (!msg->callid.l)
		return PERR(400, "Bad Call-ID header");
	for (size_t i = 0; i < msg->callid.l; i++) {
		unsigned char c = (unsigned char)msg->callid.p[i];
		if (c <= ' ' || c == 0x7f)
			return PERR(400, "Bad Call-ID header");
	}
	if (!(h = sip_msg_hdr(msg, SIP_HDR_CSEQ)))
		return PERR(400, "Missing CSeq header");
	if (cseq_parse(&msg->cseq, &h->val))
		return PERR(400, "Bad CSeq header");
	if (msg->req && !pl_eq(&msg->cseq.method, &msg->method))
		return PERR(400, "CSeq method does not match the request method");

	uint64_t v;
	msg->maxfwd = -1;
	err = num_hdr(msg, SIP_HDR_MAX_FORWARDS, 255, &v);
	if (err == EBADMSG)
		return PERR(400, "Bad Max-Forwards header");
	if (!err)
		msg->maxfwd = (int)v;
	if (num_hdr(msg, SIP_HDR_EXPIRES, 0xffffffffu, &v) == EBADMSG)
		return PERR(400, "Bad Expires header");
	if ((h = sip_msg_hdr(msg, SIP_HDR_CONTENT_TYPE)))
		msg->ctype = pl_trim(h->val);
	return 0;
}

static void msg_destroy(void *data)
{
	struct sip_msg *msg = data;
	mem_deref(msg->src.conn);
}

int sip_msg_parse(struct sip_msg **msgp, const char *data, size_t len, int flags,
		  struct sip_perr *perr)
{
	perr->scode = 0;
	perr->reason = NULL;
	*msgp = NULL;
	if (!len)
		return PERR(0, "Empty message");
	if (len > SIP_MSG_MAX_SIZE)
		return PERR(0, "Message too large");

	/* Upper bound of header lines, so the index is sized once. */
	size_t lines = 1;
	for (const char *q = data; (q = memchr(q, '\n', len - (size_t)(q - data))); q++)
		lines++;
	size_t maxh = lines < SIP_MSG_MAX_HDRS ? lines : SIP_MSG_MAX_HDRS;

	struct sip_msg *msg = mem_zalloc(sizeof(*msg) + maxh * sizeof(struct sip_hdr) + len + 1, msg_destroy);
	if (!msg)
		return ENOMEM;
	msg->hdrs = (struct sip_hdr *)(msg + 1);
	msg->buf = (char *)(msg->hdrs + maxh);
	memcpy(msg->buf, data, len);
	msg->len = len;

	const char *p = msg->buf, *end = msg->buf + len;
	const char *le = line_end(p, end);
	bool badver = false;
	int err = start_line_parse(msg, pl_from(p, (size_t)(le - p)), perr, &badver);
	if (err && !perr->scode)
		goto fail;
	/* A bad request line is still answered: index the headers to copy from. */
	struct sip_perr first = *perr;
	const char *body;
	int herr = headers_index(msg, next_line(le, end), end, maxh, &body, perr);
	if (err) {
		*perr = first;
		goto fail;
	}
	if ((err = herr))
		goto fail;
	if (badver) {
		err = PERR(505, "Version Not Supported");
		goto fail;
	}
	if ((err = essentials_parse(msg, perr)))
		goto fail;

	uint64_t cl;
	err = num_hdr(msg, SIP_HDR_CONTENT_LENGTH, SIP_MSG_MAX_SIZE, &cl);
	if (err == EBADMSG) {
		err = PERR(400, "Bad Content-Length header");
		goto fail;
	}
	size_t avail = (size_t)(end - body);
	if (err == 0) {
		if (cl > avail) {
			err = PERR(400, "Content-Length larger than the message");
			goto fail;
		}
		msg->has_clen = true;
		msg->clen = (size_t)cl;
		msg->len = (size_t)(body - msg->buf) + msg->clen;
	} else if (flags & SIP_PARSE_STREAM) {
		err = PERR(400, "Missing Content-Length header");
		goto fail;
	} else {
		msg->clen = avail;
	}
	msg->body = pl_from(body, msg->clen);
	msg->buf[msg->len] = '\0';

	if (msg->req) {
		if (sip_uri_parse(&msg->ruri, &msg->ruri_raw)) {
			err = PERR(400, "Bad Request-URI");
			goto fail;
		}
	}
	*msgp = msg;
	return 0;

fail:
	/* A request we could index can still be answered; a response never is. */
	if (msg->req && perr->scode && msg->hdrc) {
		*msgp = msg;
		return err;
	}
	perr->scode = 0;
	mem_deref(msg);
	return err;
}

int sip_msg_frame(const char *data, size_t len, size_t *msglen)
{
	/* The header section ends at the first empty line. */
	const char *end = data + len, *p = data, *hend = NULL;
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		if (!lf)
			break;
		const char *nx = lf + 1;
		if (nx < end && *nx == '\n') {
			hend = nx + 1;
			break;
		}
		if (nx + 1 < end && nx[0] == '\r' && nx[1] == '\n') {
			hend = nx + 2;
			break;
		}
		if (nx + 1 >= end && nx < end && nx[0] == '\r')
			break; /* need the LF that follows */
		p = nx;
	}
	if (!hend)
		return len > SIP_MSG_MAX_SIZE ? EMSGSIZE : EAGAIN;
	size_t hlen = (size_t)(hend - data);
	if (hlen > SIP_MSG_MAX_SIZE)
		return EMSGSIZE;

	/* Content-Length (or its compact form "l") at a line start. */
	bool found = false;
	uint64_t cl = 0;
	for (p = data; p < hend;) {
		const char *lf = memchr(p, '\n', (size_t)(hend - p));
		const char *colon = memchr(p, ':', (size_t)(lf - p));
		if (colon) {
			struct pl name = pl_from(p, (size_t)(colon - p));
			while (name.l && is_ws(name.p[name.l - 1]))
				name.l--;
			if (pl_caseeq_str(&name, "Content-Length") || pl_caseeq_str(&name, "l")) {
				/* The value may be folded onto continuation lines (RFC 3261
				 * §7.3.1), as sip_msg_parse accepts: frame what it will parse. */
				const char *vend = lf;
				while (vend + 1 < hend && is_ws(vend[1]))
					vend = memchr(vend + 1, '\n', (size_t)(hend - vend - 1));
				struct pl v = pl_trim(pl_from(colon + 1, (size_t)(vend - colon - 1)));
				if (found || pl_u64(&v, SIP_MSG_MAX_SIZE, &cl)) {
					*msglen = hlen;
					return EBADMSG;
				}
				found = true;
			}
		}
		p = lf + 1;
	}
	if (!found) {
		*msglen = hlen;
		return EBADMSG;
	}
	if (hlen + cl > SIP_MSG_MAX_SIZE)
		return EMSGSIZE;
	if (hlen + cl > len)
		return EAGAIN;
	*msglen = hlen + (size_t)cl;
	return 0;
}
