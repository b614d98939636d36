/* SIP message printers (see print.h). Headers are copied from the request as
 * received: a response never re-encodes what the peer wrote. */
#include "sip/print.h"

#include <errno.h>
#include <string.h>

struct reason_entry {
	uint16_t code;
	const char *text;
};

static const struct reason_entry reasons[] = {
	{ 100, "Trying" }, { 180, "Ringing" }, { 181, "Call Is Being Forwarded" }, { 182, "Queued" },
	{ 183, "Session Progress" }, { 200, "OK" }, { 202, "Accepted" }, { 300, "Multiple Choices" },
	{ 301, "Moved Permanently" }, { 302, "Moved Temporarily" }, { 305, "Use Proxy" },
	{ 380, "Alternative Service" }, { 400, "Bad Request" }, { 401, "Unauthorized" },
	{ 402, "Payment Required" }, { 403, "Forbidden" }, { 404, "Not Found" },
	{ 405, "Method Not Allowed" }, { 406, "Not Acceptable" }, { 407, "Proxy Authentication Required" },
	{ 408, "Request Timeout" }, { 410, "Gone" }, { 413, "Request Entity Too Large" },
	{ 414, "Request-URI Too Long" }, { 415, "Unsupported Media Type" },
	{ 416, "Unsupported URI Scheme" }, { 420, "Bad Extension" }, { 421, "Extension Required" },
	{ 423, "Interval Too Brief" }, { 480, "Temporarily Unavailable" },
	{ 481, "Call/Transaction Does Not Exist" }, { 482, "Loop Detected" }, { 483, "Too Many Hops" },
	{ 484, "Address Incomplete" }, { 485, "Ambiguous" }, { 486, "Busy Here" },
	{ 487, "Request Terminated" }, { 488, "Not Acceptable Here" }, { 491, "Request Pending" },
	{ 493, "Undecipherable" }, { 500, "Server Internal Error" }, { 501, "Not Implemented" },
	{ 502, "Bad Gateway" }, { 503, "Service Unavailable" }, { 504, "Server Time-out" },
	{ 505, "Version Not Supported" }, { 513, "Message Too Large" }, { 600, "Busy Everywhere" },
	{ 603, "Decline" }, { 604, "Does Not Exist Anywhere" }, { 606, "Not Acceptable" },
};

const char *sip_reason(uint16_t scode)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (reasons[i].code == scode)
			return reasons[i].text;
	}
	return scode < 200 ? "Progress" : scode < 300 ? "OK" : scode < 400 ? "Redirect"
	     : scode < 500 ? "Client Error" : scode < 600 ? "Server Error" : "Global Failure";
}

/* The top Via with received/rport filled in (RFC 3261 §18.2.1, RFC 3581 §4). */
static int print_top_via(struct mbuf *mb, const struct sip_msg *req, const struct pl *raw)
{
	const struct sip_via *via = &req->via;
	bool parsed = req->nvia && via->val.p == raw->p;
	if (!parsed || !req->src.addr.len)
		return mbuf_write_pl(mb, raw);

	char ip[64];
	sa_ntop(&req->src.addr, ip, sizeof(ip));
	int err = 0;
	struct pl v = *raw;
	if (via->has_rport && !via->rport.l) {
		/* insert "=port" right after the bare rport parameter name */
		size_t off = (size_t)(via->rport.p - v.p);
		err |= mbuf_write_mem(mb, v.p, off);
		err |= mbuf_printf(mb, "=%u", sa_port(&req->src.addr));
		err |= mbuf_write_mem(mb, v.p + off, v.l - off);
	} else {
		err |= mbuf_write_pl(mb, &v);
	}
	struct pl ipl = pl_cstr(ip);
	bool same = via->af && pl_caseeq(&via->host, &ipl);
	if (!via->received.p && (!same || via->has_rport)) {
		if (sa_af(&req->src.addr) == AF_INET6)
			err |= mbuf_printf(mb, ";received=[%s]", ip);
		else
			err |= mbuf_printf(mb, ";received=%s", ip);
	}
	return err;
}

/* Writes "name: value" without CRLF. Values go through mbuf_write_pl, never
 * "%.*s": a received value may hold a NUL (RFC 4475 §3.1.1.2 puts one in a quoted
 * display name) and printf would cut the header short there. */
static int write_hdr(struct mbuf *mb, const struct pl *name, const struct pl *val)
{
	int err = mbuf_write_pl(mb, name);
	err |= mbuf_write_str(mb, ": ");
	err |= mbuf_write_pl(mb, val);
	return err;
}

static int copy_hdrs(struct mbuf *mb, const struct sip_msg *req, enum sip_hdr_id id, const char *name)
{
	int err = 0;
	struct pl n = pl_cstr(name);
	for (const struct sip_hdr *h = sip_msg_hdr(req, id); h; h = sip_msg_hdr_next(req, h)) {
		err |= write_hdr(mb, &n, &h->val);
		err |= mbuf_write_str(mb, "\r\n");
	}
	return err;
}

/* Whether To already has a tag. The request's To is decoded only when the parse
 * got that far; an error answer (505, bad Via) decodes it here so that it never
 * gets a second tag, and adds none to a To it cannot read. */
static bool to_has_tag(const struct sip_msg *req, const struct sip_hdr *to)
{
	if (req->to.auri.p)
		return req->to.tag.l > 0;
	struct sip_addr a;
	return sip_addr_parse(&a, &to->val, false) != 0 || a.tag.l > 0;
}

/* The names a response writes the headers it copies under: the full forms, or
 * the compact forms of RFC 3261 §7.3.3 (CSeq has none). */
struct resp_names {
	const char *via, *from, *to, *callid, *clen;
};

static const struct resp_names full_names = { "Via", "From", "To", "Call-ID", "Content-Length" };
static const struct resp_names compact_names = { "v", "f", "t", "i", "l" };

static int print_response(struct mbuf *mb, const struct sip_msg *req, uint16_t scode,
			  const char *reason, const char *totag, const char *extra,
			  const char *ctype, const struct pl *body, const struct resp_names *nm)
{
	int err = mbuf_printf(mb, "SIP/2.0 %u %s\r\n", scode, reason ? reason : sip_reason(scode));
	bool top = true;
	for (const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_VIA); h; h = sip_msg_hdr_next(req, h)) {
		err |= mbuf_printf(mb, "%s: ", nm->via);
		if (top) {
			/* The top Via is the first value of the first Via header. */
			struct pl cur = h->val, first;
			if (sip_hdr_value_next(&cur, &first) == 0 && first.p == req->via.val.p) {
				err |= print_top_via(mb, req, &first);
				struct pl rest = pl_from(first.p + first.l, h->val.l - (size_t)(first.p + first.l - h->val.p));
				err |= mbuf_write_pl(mb, &rest);
			} else {
				err |= mbuf_write_pl(mb, &h->val);
			}
			top = false;
		} else {
			err |= mbuf_write_pl(mb, &h->val);
		}
		err |= mbuf_write_str(mb, "\r\n");
	}
	err |= copy_hdrs(mb, req, SIP_HDR_FROM, nm->from);
	const struct sip_hdr *to = sip_msg_hdr(req, SIP_HDR_TO);
	if (to) {
		struct pl toname = pl_cstr(nm->to);
		err |= write_hdr(mb, &toname, &to->val);
		if (scode > 100 && totag && !to_has_tag(req, to))
			err |= mbuf_printf(mb, ";tag=%s", totag);
		err |= mbuf_write_str(mb, "\r\n");
	}
	err |= copy_hdrs(mb, req, SIP_HDR_CALL_ID, nm->callid);
	err |= copy_hdrs(mb, req, SIP_HDR_CSEQ, "CSeq");
	/* §8.2.6.1: a 100 echoes Timestamp; §12.1.1: a dialog-creating answer carries
	 * the Record-Route set back in order. */
	if (scode == 100)
		err |= copy_hdrs(mb, req, SIP_HDR_TIMESTAMP, "Timestamp");
	bool dialog = req->mid == SIP_INVITE || req->mid == SIP_SUBSCRIBE || req->mid == SIP_REFER;
	if (dialog && scode > 100 && scode < 300)
		err |= copy_hdrs(mb, req, SIP_HDR_RECORD_ROUTE, "Record-Route");
	if (extra)
		err |= mbuf_write_str(mb, extra);
	size_t blen = body ? body->l : 0;
	if (blen && ctype)
		err |= mbuf_printf(mb, "Content-Type: %s\r\n", ctype);
	err |= mbuf_printf(mb, "%s: %zu\r\n\r\n", nm->clen, blen);
	if (blen)
		err |= mbuf_write_pl(mb, body);
	return err ? EMSGSIZE : 0;
}

int sip_print_response(struct mbuf *mb, const struct sip_msg *req, uint16_t scode,
		       const char *reason, const char *totag, const char *extra,
		       const char *ctype, const struct pl *body)
{
	return print_response(mb, req, scode, reason, totag, extra, ctype, body, &full_names);
}

int sip_print_response_compact(struct mbuf *mb, const struct sip_msg *req, uint16_t scode,
			       const char *reason, const char *totag, const char *extra)
{
	return print_response(mb, req, scode, reason, totag, extra, NULL, NULL, &compact_names);
}

int sip_print_request(struct mbuf *mb, const struct sip_req_spec *r)
{
	int err = mbuf_printf(mb, "%s %s SIP/2.0\r\n", r->method, r->ruri);
	err |= mbuf_printf(mb, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", r->via_transport,
			   r->via_sentby, r->branch);
	err |= mbuf_printf(mb, "Max-Forwards: %d\r\n", r->max_forwards ? r->max_forwards : 70);
	err |= mbuf_printf(mb, "From: %s;tag=%s\r\n", r->from, r->from_tag);
	err |= mbuf_printf(mb, "To: %s", r->to);
	if (r->to_tag)
		err |= mbuf_printf(mb, ";tag=%s", r->to_tag);
	err |= mbuf_printf(mb, "\r\nCall-ID: %s\r\nCSeq: %u %s\r\n", r->callid, r->cseq, r->method);
	for (size_t i = 0; i < r->nroutes; i++)
		err |= mbuf_printf(mb, "Route: %s\r\n", r->routes[i]);
	if (r->contact)
		err |= mbuf_printf(mb, "Contact: %s\r\n", r->contact);
	if (r->extra)
		err |= mbuf_write_str(mb, r->extra);
	if (r->body.l && r->ctype)
		err |= mbuf_printf(mb, "Content-Type: %s\r\n", r->ctype);
	err |= mbuf_printf(mb, "Content-Length: %zu\r\n\r\n", r->body.l);
	if (r->body.l)
		err |= mbuf_write_pl(mb, &r->body);
	return err ? EMSGSIZE : 0;
}

/* ACK and CANCEL share everything but the method and where To comes from. */
static int print_derived(struct mbuf *mb, const struct sip_msg *req, const char *method,
			 const struct sip_msg *to_from, const char *extra)
{
	int err = mbuf_printf(mb, "%s %.*s SIP/2.0\r\n", method, (int)req->ruri_raw.l, req->ruri_raw.p);
	err |= write_hdr(mb, &PL("Via"), &req->via.val);
	err |= mbuf_write_str(mb, "\r\n");
	err |= mbuf_write_str(mb, "Max-Forwards: 70\r\n");
	err |= copy_hdrs(mb, req, SIP_HDR_FROM, "From");
	err |= copy_hdrs(mb, to_from, SIP_HDR_TO, "To");
	err |= copy_hdrs(mb, req, SIP_HDR_CALL_ID, "Call-ID");
	err |= mbuf_printf(mb, "CSeq: %u %s\r\n", req->cseq.num, method);
	err |= copy_hdrs(mb, req, SIP_HDR_ROUTE, "Route");
	if (extra)
		err |= mbuf_write_str(mb, extra);
	err |= mbuf_write_str(mb, "Content-Length: 0\r\n\r\n");
	return err ? EMSGSIZE : 0;
}

int sip_print_ack(struct mbuf *mb, const struct sip_msg *req, const struct sip_msg *resp)
{
	return print_derived(mb, req, "ACK", resp, NULL);
}

int sip_print_cancel(struct mbuf *mb, const struct sip_msg *req, const char *extra)
{
	return print_derived(mb, req, "CANCEL", req, extra);
}

int sip_msg_print(struct mbuf *mb, const struct sip_msg *msg)
{
	int err;
	if (msg->req) {
		err = mbuf_printf(mb, "%.*s %.*s SIP/2.0\r\n", (int)msg->method.l, msg->method.p,
				  (int)msg->ruri_raw.l, msg->ruri_raw.p);
	} else {
		err = mbuf_printf(mb, "SIP/2.0 %u ", msg->scode);
		err |= mbuf_write_pl(mb, &msg->reason);
		err |= mbuf_write_str(mb, "\r\n");
	}
	for (size_t i = 0; i < msg->hdrc; i++) {
		const struct sip_hdr *h = &msg->hdrs[i];
		struct pl v = pl_trim(h->val);
		err |= write_hdr(mb, &h->name, &v);
		err |= mbuf_write_str(mb, "\r\n");
	}
	err |= mbuf_write_str(mb, "\r\n");
	err |= mbuf_write_pl(mb, &msg->body);
	return err ? EMSGSIZE : 0;
}
