/* Unit tests for the SIP message parser (src/sip/msg.c, hdr.c): every message of
 * the RFC 4475 and RFC 5118 torture corpora, read at run time from
 * $SIP_TORTURE_DIR and judged against the corpus manifests; the decoded fields of
 * the messages that exercise them; stream framing (sip_msg_frame); and the limits
 * and checks the parser applies to hand-written messages. Every message parsed is
 * freed, so an ASan build also proves the parser leaks nothing. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "core/mem.h"
#include "sip/msg.h"
#include "sip/uri.h"

/* ---- helpers ---- */

static const char *torture_dir(void)
{
	const char *d = getenv("SIP_TORTURE_DIR");
	if (!d || !*d)
		fail_msg("SIP_TORTURE_DIR is not set (run through meson test)");
	return d;
}

/* Reads a corpus file (path relative to $SIP_TORTURE_DIR) into a malloc'd buffer. */
static char *torture_read(const char *rel, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", torture_dir(), rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	char *buf = malloc(SIP_MSG_MAX_SIZE + 2);
	assert_non_null(buf);
	size_t n = fread(buf, 1, SIP_MSG_MAX_SIZE + 1, f);
	fclose(f);
	*len = n;
	return buf;
}

/* Parses a corpus file that must parse, as one UDP datagram. */
static struct sip_msg *torture_parse(const char *rel)
{
	size_t len;
	char *data = torture_read(rel, &len);
	struct sip_msg *msg = NULL;
	struct sip_perr perr;
	int err = sip_msg_parse(&msg, data, len, 0, &perr);
	free(data);
	if (err)
		fail_msg("%s: parse failed: %d %u %s", rel, err, perr.scode, perr.reason ? perr.reason : "");
	assert_non_null(msg);
	return msg;
}

static int parse_str(const char *s, int flags, struct sip_msg **msgp, struct sip_perr *perr)
{
	return sip_msg_parse(msgp, s, strlen(s), flags, perr);
}

static void assert_pl(const struct pl *pl, const char *s)
{
	if (!pl->p && *s)
		fail_msg("slice unset, expected \"%s\"", s);
	if (pl->l != strlen(s) || (pl->l && memcmp(pl->p, s, pl->l) != 0))
		fail_msg("got \"%.*s\" (%zu), expected \"%s\"", (int)pl->l, pl->p ? pl->p : "", pl->l, s);
}

/* Expects a rejection with this status and exactly this reason phrase. */
static void expect_reject(const char *s, int flags, uint16_t scode, const char *reason)
{
	struct sip_msg *msg = NULL;
	struct sip_perr perr;
	int err = parse_str(s, flags, &msg, &perr);
	if (err != EBADMSG)
		fail_msg("expected EBADMSG (%s), got %d", reason, err);
	assert_int_equal(perr.scode, scode);
	assert_non_null(perr.reason);
	if (strcmp(perr.reason, reason) != 0)
		fail_msg("reason \"%s\", expected \"%s\"", perr.reason, reason);
	if (scode) {
		/* answerable: the message comes back so the caller can copy its headers */
		assert_non_null(msg);
		assert_true(msg->req);
	} else {
		assert_null(msg);
	}
	mem_deref(msg);
}

static struct sip_msg *expect_ok(const char *s, int flags)
{
	struct sip_msg *msg = NULL;
	struct sip_perr perr;
	int err = parse_str(s, flags, &msg, &perr);
	if (err)
		fail_msg("parse failed: %d %u %s", err, perr.scode, perr.reason ? perr.reason : "");
	assert_non_null(msg);
	assert_int_equal(perr.scode, 0);
	return msg;
}

/* ---- the manifests ---- */

struct mf_entry {
	char rel[128];     /* path under $SIP_TORTURE_DIR */
	char cls[32];
	char expect[256];
};

enum { MF_MAX = 128 };

/* Reads manifest-<name>.tsv: a header line names the columns; files live in <name>/. */
static size_t manifest_load(const char *name, struct mf_entry *out, size_t max)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/manifest-%s.tsv", torture_dir(), name);
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	char line[1024];
	int c_file = -1, c_class = -1, c_exp = -1;
	size_t n = 0;
	bool header = true;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		char *cols[8] = { 0 };
		int nc = 0;
		for (char *p = line, *tab; nc < 8; p = tab + 1) {
			cols[nc++] = p;
			tab = strchr(p, '\t');
			if (!tab)
				break;
			*tab = '\0';
		}
		if (header) {
			for (int i = 0; i < nc; i++) {
				if (!strcmp(cols[i], "file"))
					c_file = i;
				else if (!strcmp(cols[i], "class"))
					c_class = i;
				else if (!strcmp(cols[i], "expected_server_behaviour"))
					c_exp = i;
			}
			if (c_file < 0 || c_class < 0 || c_exp < 0)
				fail_msg("%s: missing a column", path);
			header = false;
			continue;
		}
		if (nc <= c_exp || nc <= c_class || nc <= c_file)
			fail_msg("%s: short line", path);
		assert_true(n < max);
		snprintf(out[n].rel, sizeof(out[n].rel), "%s/%s", name, cols[c_file]);
		snprintf(out[n].cls, sizeof(out[n].cls), "%s", cols[c_class]);
		snprintf(out[n].expect, sizeof(out[n].expect), "%s", cols[c_exp]);
		n++;
	}
	fclose(f);
	return n;
}

enum want { W_PARSE, W_REJECT, W_DROP, W_MAY_ACCEPT, W_REJECT_OR_DROP };

static enum want classify(const struct mf_entry *e, uint16_t *code)
{
	*code = 0;
	if (!strcmp(e->cls, "VALID") || !strcmp(e->cls, "VALID-SYNTAX") || !strcmp(e->cls, "SEMANTIC"))
		return W_PARSE; /* semantic codes (416, 420, 483...) are the stack's to send */
	if (!strcmp(e->cls, "INVALID(may-accept)")) {
		*code = 400;
		return W_MAY_ACCEPT;
	}
	if (!strcmp(e->cls, "INVALID")) {
		if (e->expect[0] >= '1' && e->expect[0] <= '6') {
			*code = (uint16_t)atoi(e->expect);
			return W_REJECT;
		}
		if (strstr(e->expect, "drop"))
			return W_DROP;
	}
	if (!strcmp(e->cls, "UNREFERENCED") && strstr(e->expect, "400 or drop")) {
		*code = 400;
		return W_REJECT_OR_DROP;
	}
	fail_msg("%s: no rule for class %s / \"%s\"", e->rel, e->cls, e->expect);
	return W_PARSE;
}

/* What must hold of any message the parser accepted. */
static void check_invariants(const char *rel, const struct sip_msg *msg, size_t len)
{
	if (msg->len > len || msg->buf[msg->len] != '\0')
		fail_msg("%s: bad length %zu of %zu", rel, msg->len, len);
	if (msg->body.p + msg->body.l != msg->buf + msg->len)
		fail_msg("%s: body does not end the message", rel);
	if (msg->has_clen && msg->body.l != msg->clen)
		fail_msg("%s: body %zu != Content-Length %zu", rel, msg->body.l, msg->clen);
	if (!msg->nvia || !msg->via.val.l || !msg->callid.l || !msg->from.auri.l || !msg->to.auri.l)
		fail_msg("%s: an essential field is empty", rel);
	if (msg->req && !pl_eq(&msg->method, &msg->cseq.method))
		fail_msg("%s: CSeq method differs", rel);
	if (!msg->req && (msg->scode < 100 || msg->scode > 699))
		fail_msg("%s: status %u", rel, msg->scode);
	for (size_t i = 0; i < msg->hdrc; i++) {
		const struct sip_hdr *h = &msg->hdrs[i];
		if (h->id != sip_hdr_id(&h->name) || h->name.p < msg->buf || h->val.p + h->val.l > msg->buf + msg->len)
			fail_msg("%s: header %zu badly indexed", rel, i);
	}
}

static void run_entry(const struct mf_entry *e)
{
	uint16_t code;
	enum want w = classify(e, &code);
	size_t len;
	char *data = torture_read(e->rel, &len);
	struct sip_msg *msg = (struct sip_msg *)&msg; /* must be overwritten */
	struct sip_perr perr;
	int err = sip_msg_parse(&msg, data, len, 0, &perr);
	const char *why = perr.reason ? perr.reason : "(none)";

	if (err && err != EBADMSG)
		fail_msg("%s: unexpected error %d", e->rel, err);
	if (err && (!perr.reason || !perr.reason[0]))
		fail_msg("%s: rejected without a reason", e->rel);
	if (err && msg && (!perr.scode || !msg->req))
		fail_msg("%s: a message came back with status %u", e->rel, perr.scode);

	switch (w) {
	case W_PARSE:
		if (err)
			fail_msg("%s [%s]: expected to parse, got %u %s", e->rel, e->cls, perr.scode, why);
		break;
	case W_REJECT:
		if (err != EBADMSG || perr.scode != code || !msg)
			fail_msg("%s: expected %u, got err %d status %u (%s)", e->rel, code, err, perr.scode, why);
		break;
	case W_DROP:
		if (err != EBADMSG || perr.scode != 0 || msg)
			fail_msg("%s: expected a silent drop, got err %d status %u", e->rel, err, perr.scode);
		break;
	case W_MAY_ACCEPT:
		if (err && perr.scode != code)
			fail_msg("%s: may be rejected only with %u, got %u (%s)", e->rel, code, perr.scode, why);
		break;
	case W_REJECT_OR_DROP:
		if (!err || (perr.scode != code && perr.scode != 0))
			fail_msg("%s: expected %u or drop, got err %d status %u", e->rel, code, err, perr.scode);
		break;
	}
	if (!err) {
		assert_non_null(msg);
		assert_int_equal(perr.scode, 0);
		check_invariants(e->rel, msg, len);
	}
	mem_deref(msg);
	free(data);
}

static size_t dir_count(const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", torture_dir(), name);
	DIR *d = opendir(path);
	if (!d)
		fail_msg("cannot open %s", path);
	size_t n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

/* Every listed file, both corpora, judged by its manifest line. */
static void test_manifest_every_file(void **state)
{
	(void)state;
	static const char *const corpora[] = { "rfc4475", "rfc5118" };
	struct mf_entry *e = calloc(MF_MAX, sizeof(*e));
	assert_non_null(e);
	size_t total = 0;
	for (size_t c = 0; c < 2; c++) {
		size_t n = manifest_load(corpora[c], e, MF_MAX);
		/* the manifest lists the whole corpus: nothing in the folder goes untested */
		assert_int_equal(n, dir_count(corpora[c]));
		for (size_t i = 0; i < n; i++)
			run_entry(&e[i]);
		total += n;
	}
	assert_int_equal(total, 62); /* 50 RFC 4475 files, 12 RFC 5118 */
	free(e);
}

/* Every prefix of every corpus message, and each one in stream mode: the parser
 * must answer 0 or EBADMSG, never read past the data (ASan), and keep its
 * promise about *msgp. Stream framing must agree with the parser on lengths. */
static void test_corpus_prefixes_and_framing(void **state)
{
	(void)state;
	static const char *const corpora[] = { "rfc4475", "rfc5118" };
	struct mf_entry *e = calloc(MF_MAX, sizeof(*e));
	assert_non_null(e);
	size_t framed = 0;
	for (size_t c = 0; c < 2; c++) {
		size_t n = manifest_load(corpora[c], e, MF_MAX);
		for (size_t i = 0; i < n; i++) {
			size_t len;
			char *data = torture_read(e[i].rel, &len);
			for (size_t l = 1; l <= len; l++) {
				for (int flags = 0; flags <= SIP_PARSE_STREAM; flags++) {
					struct sip_msg *msg;
					struct sip_perr perr;
					int err = sip_msg_parse(&msg, data, l, flags, &perr);
					if (err != 0 && err != EBADMSG)
						fail_msg("%s[..%zu]: error %d", e[i].rel, l, err);
					if (!err && (!msg || perr.scode))
						fail_msg("%s[..%zu]: success without a message", e[i].rel, l);
					if (err && msg && !perr.scode)
						fail_msg("%s[..%zu]: message without a status", e[i].rel, l);
					if (!err)
						check_invariants(e[i].rel, msg, l);
					mem_deref(msg);
				}
			}
			/* The framer finds the same message the parser does. */
			struct sip_msg *msg;
			struct sip_perr perr;
			if (!sip_msg_parse(&msg, data, len, SIP_PARSE_STREAM, &perr)) {
				size_t mlen = 0;
				int err = sip_msg_frame(data, len, &mlen);
				if (err || mlen != msg->len)
					fail_msg("%s: frame %d/%zu, parser %zu", e[i].rel, err, mlen, msg->len);
				framed++;
			}
			mem_deref(msg);
			free(data);
		}
	}
	assert_true(framed > 30);
	free(e);
}

/* ---- decoded fields of particular corpus messages ---- */

static unsigned count_values(const struct sip_msg *msg, enum sip_hdr_id id)
{
	unsigned n = 0;
	for (const struct sip_hdr *h = sip_msg_hdr(msg, id); h; h = sip_msg_hdr_next(msg, h)) {
		struct pl cur = h->val, v;
		int err;
		while ((err = sip_hdr_value_next(&cur, &v)) == 0)
			n++;
		assert_int_equal(err, ENOENT);
	}
	return n;
}

static unsigned count_hdrs(const struct sip_msg *msg, enum sip_hdr_id id)
{
	unsigned n = 0;
	for (const struct sip_hdr *h = sip_msg_hdr(msg, id); h; h = sip_msg_hdr_next(msg, h))
		n++;
	return n;
}

/* RFC 4475 §3.1.1.1 */
static void test_wsinv(void **state)
{
	(void)state;
	struct sip_msg *msg = torture_parse("rfc4475/wsinv.dat");
	assert_true(msg->req);
	assert_int_equal(msg->mid, SIP_INVITE);
	assert_pl(&msg->ruri.user, "vivekg");
	assert_pl(&msg->ruri.host, "chair-dnrc.example.com");
	assert_pl(&msg->ruri.params, ";unknownparam");
	assert_pl(&msg->callid, "wsinv.ndaksdj@192.0.2.1");
	assert_int_equal(msg->cseq.num, 9);
	assert_pl(&msg->cseq.method, "INVITE");
	assert_int_equal(msg->cseq.mid, SIP_INVITE);
	assert_pl(&msg->to.tag, "1918181833n");
	assert_pl(&msg->to.uri.user, "vivekg");
	assert_pl(&msg->from.tag, "98asjd8");
	assert_pl(&msg->from.dname, "\"J Rosenberg \\\\\\\"\"");
	assert_pl(&msg->from.uri.user, "jdrosen");
	assert_int_equal(msg->maxfwd, 68);
	assert_true(msg->has_clen);
	assert_int_equal(msg->clen, 150);
	assert_int_equal(msg->body.l, 150);
	assert_memory_equal(msg->body.p, "v=0\r\n", 5);
	assert_pl(&msg->ctype, "application/sdp");

	/* three Via values over two header lines, the top one folded around '/' */
	assert_int_equal(msg->nvia, 3);
	assert_int_equal(count_values(msg, SIP_HDR_VIA), 3);
	assert_int_equal(count_hdrs(msg, SIP_HDR_VIA), 2);
	assert_pl(&msg->via.branch, "390skdjuw");
	assert_pl(&msg->via.transport, "UDP");
	assert_pl(&msg->via.host, "192.0.2.2");
	assert_int_equal(msg->via.af, AF_INET);
	const struct sip_hdr *v2 = sip_msg_hdr_next(msg, sip_msg_hdr(msg, SIP_HDR_VIA));
	assert_non_null(v2);
	assert_pl(&v2->name, "v");
	struct pl cur = v2->val, val;
	struct sip_via via;
	assert_int_equal(sip_hdr_value_next(&cur, &val), 0);
	assert_int_equal(sip_via_parse(&via, &val), 0);
	assert_pl(&via.branch, "z9hG4bK9ikj8");
	assert_pl(&via.transport, "TCP");
	assert_pl(&via.host, "spindle.example.com");
	assert_int_equal(sip_hdr_value_next(&cur, &val), 0);
	assert_int_equal(sip_via_parse(&via, &val), 0);
	assert_pl(&via.branch, "z9hG4bK30239");
	assert_pl(&via.host, "192.168.255.111");
	assert_int_equal(sip_hdr_value_next(&cur, &val), ENOENT);

	/* names as written; ids from long, odd-case and compact forms */
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_TO);
	assert_pl(&h->name, "TO");
	h = sip_msg_hdr(msg, SIP_HDR_MAX_FORWARDS);
	assert_pl(&h->name, "MaX-fOrWaRdS");
	h = sip_msg_hdr(msg, SIP_HDR_SUBJECT);
	assert_non_null(h);
	assert_pl(&h->name, "s");
	assert_int_equal(h->val.l, 0);
	h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	assert_non_null(h);
	assert_pl(&h->name, "m");
	h = sip_msg_hdr(msg, SIP_HDR_CSEQ);
	assert_pl(&h->name, "cseq");
	h = sip_msg_hdr(msg, SIP_HDR_CONTENT_LENGTH);
	assert_pl(&h->name, "Content-Length");

	/* Contact: quoted display name with escaped quotes, params across folds */
	struct sip_addr a;
	assert_int_equal(sip_addr_parse(&a, &sip_msg_hdr(msg, SIP_HDR_CONTACT)->val, true), 0);
	assert_pl(&a.dname, "\"Quoted string \\\"\\\"\"");
	assert_pl(&a.uri.user, "jdrosen");
	struct pl pv;
	assert_int_equal(sip_param_get(&a.params, "newparam", &pv), 0);
	assert_pl(&pv, "newvalue");
	assert_int_equal(sip_param_get(&a.params, "q", &pv), 0);
	assert_pl(&pv, "0.33");
	assert_true(sip_param_exists(&a.params, "secondparam"));

	/* extension headers keep their folded value */
	h = sip_msg_hdr_name(msg, "newfangledheader");
	assert_non_null(h);
	assert_int_equal(h->id, SIP_HDR_OTHER);
	assert_pl(&h->val, "newfangled value\r\n continued newfangled value");
	h = sip_msg_hdr_name(msg, "UnknownHeaderWithUnusualValue");
	assert_non_null(h);
	assert_pl(&h->val, ";;,,;;,;");
	h = sip_msg_hdr(msg, SIP_HDR_ROUTE);
	assert_non_null(h);
	assert_pl(&h->val, "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>");
	assert_int_equal(msg->hdrc, 14);
	mem_deref(msg);
}

/* RFC 4475 §3.1.1.2 */
static void test_intmeth(void **state)
{
	(void)state;
	struct sip_msg *msg = torture_parse("rfc4475/intmeth.dat");
	assert_pl(&msg->method, "!interesting-Method0123456789_*+`.%indeed'~");
	assert_int_equal(msg->mid, SIP_METHOD_OTHER);
	assert_int_equal(msg->cseq.mid, SIP_METHOD_OTHER);
	assert_int_equal(msg->cseq.num, 139122385);
	assert_int_equal(msg->ruri.scheme_id, SIP_SCHEME_SIP);
	assert_pl(&msg->ruri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
	assert_pl(&msg->ruri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
	assert_pl(&msg->ruri.host, "example.com");
	assert_int_equal(msg->maxfwd, 255);
	/* the display name holds a raw NUL and DEL: the slice keeps them */
	assert_int_equal(msg->to.dname.l, 22);
	assert_memory_equal(msg->to.dname.p, "\"BEL:\\\a NUL:\\\0 DEL:\\\x7f\"", 22);
	assert_pl(&msg->from.dname, "token1~` token2'+_ token3*%!.-");
	assert_pl(&msg->from.tag, "_token~1'+`*%!-.");
	assert_pl(&msg->callid, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
	assert_pl(&msg->via.branch, "z9hG4bK-.!%66*_+`'~");
	const struct sip_hdr *h = sip_msg_hdr_name(msg, "extensionHeader-!.%*+_`'~");
	assert_non_null(h);
	assert_pl(&h->val, "\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb");
	mem_deref(msg);
}

/* RFC 4475 §3.1.1.3 */
static void test_esc01(void **state)
{
	(void)state;
	struct sip_msg *msg = torture_parse("rfc4475/esc01.dat");
	char buf[64];
	size_t n;
	assert_pl(&msg->ruri.user, "sips%3Auser%40example.com");
	assert_int_equal(sip_uri_unescape(&msg->ruri.user, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 21);
	assert_memory_equal(buf, "sips:user@example.com", n);
	assert_pl(&msg->ruri.host, "example.net");
	assert_int_equal(sip_uri_unescape(&msg->to.uri.user, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "user", 4);
	assert_int_equal(sip_uri_unescape(&msg->from.uri.user, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 13);
	assert_memory_equal(buf, "I have spaces", 13);
	/* compact "i" and "C" */
	assert_pl(&msg->callid, "esc01.239409asdfakjkn23onasd0-3234");
	assert_pl(&msg->ctype, "application/sdp");
	struct sip_addr a;
	assert_int_equal(sip_addr_parse(&a, &sip_msg_hdr(msg, SIP_HDR_CONTACT)->val, true), 0);
	assert_pl(&a.uri.user, "cal%6Cer");
	assert_pl(&a.uri.params, ";%6C%72;n%61me=v%61lue%25%34%31");
	mem_deref(msg);
}

/* RFC 4475 §3.1.1.4: %00 never truncates */
static void test_escnull(void **state)
{
	(void)state;
	struct sip_msg *msg = torture_parse("rfc4475/escnull.dat");
	char buf[32];
	size_t n;
	assert_pl(&msg->to.uri.user, "null-%00-null");
	assert_pl(&msg->from.uri.user, "null-%00-null");
	assert_int_equal(sip_uri_unescape(&msg->to.uri.user, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 11);
	assert_memory_equal(buf, "null-\0-null", 11);
	assert_pl(&msg->from.tag, "839923423");
	assert_int_equal(msg->cseq.num, 14398234);
	assert_int_equal(msg->mid, SIP_REGISTER);
	/* "L:0" is the compact Content-Length */
	assert_true(msg->has_clen);
	assert_int_equal(msg->clen, 0);
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	static const size_t nuls[] = { 1, 2 };
	for (size_t i = 0; i < 2; i++, h = sip_msg_hdr_next(msg, h)) {
		assert_non_null(h);
		struct sip_addr a;
		assert_int_equal(sip_addr_parse(&a, &h->val, true), 0);
		assert_int_equal(sip_uri_unescape(&a.uri.user, buf, sizeof(buf), &n), 0);
		assert_int_equal(n, nuls[i]);
		assert_memory_equal(buf, "\0\0", n);
	}
	assert_null(h);
	mem_deref(msg);
}

/* RFC 4475 §3.1.1.5: '%' that is no escape, where a token allows it */
static void test_esc02(void **state)
{
	(void)state;
	struct sip_msg *msg = torture_parse("rfc4475/esc02.dat");
	assert_pl(&msg->method, "RE%47IST%45R");
	assert_int_equal(msg->mid, SIP_METHOD_OTHER);
	assert_pl(&msg->via.branch, "z9hG4bK209%fzsnel234");
	assert_pl(&msg->to.dname, "\"%Z%45\"");
	/* "C%6Fntact" is not Contact */
	assert_int_equal(count_hdrs(msg, SIP_HDR_CONTACT), 2);
	const struct sip_hdr *h = sip_msg_hdr_name(msg, "C%6Fntact");
	assert_non_null(h);
	assert_int_equal(h->id, SIP_HDR_OTHER);
	mem_deref(msg);
}

static void test_lwsdisp_longreq(void **state)
{
	(void)state;
	struct sip_msg *msg = torture_parse("rfc4475/lwsdisp.dat");
	assert_pl(&msg->from.dname, "caller");
	assert_pl(&msg->from.uri.user, "caller");
	assert_pl(&msg->from.tag, "323");
	mem_deref(msg);

	msg = torture_parse("rfc4475/longreq.dat");
	assert_int_equal(msg->nvia, 34);
	assert_int_equal(count_hdrs(msg, SIP_HDR_VIA), 34);
	assert_pl(&msg->via.host, "sip33.example.com");
	assert_int_equal(msg->via.branch.l, 0);
	assert_int_equal(msg->to.uri.port, 6000);
	assert_int_equal(msg->from.tag.l, 155);
	assert_int_equal(msg->callid.l, 141);
	assert_int_equal(msg->clen, 150);
	mem_deref(msg);
}

/* RFC 4475 §3.1.1.8: only the first message of the datagram */
static void test_dblreq(void **state)
{
	(void)state;
	size_t len;
	char *data = torture_read("rfc4475/dblreq.dat", &len);
	struct sip_msg *msg = torture_parse("rfc4475/dblreq.dat");
	const char *hend = strstr(data, "\r\n\r\n");
	assert_non_null(hend);
	size_t first = (size_t)(hend + 4 - data);
	assert_int_equal(msg->len, first);
	assert_true(msg->len < len);
	assert_int_equal(msg->clen, 0);
	assert_int_equal(msg->body.l, 0);
	assert_int_equal(msg->mid, SIP_REGISTER);
	assert_pl(&msg->callid, "dblreq.0ha0isndaksdj99sdfafnl3lk233412");
	assert_int_equal(msg->buf[msg->len], '\0');
	/* nothing of the trailing INVITE was indexed */
	for (size_t i = 0; i < msg->hdrc; i++)
		assert_true(msg->hdrs[i].val.p < msg->buf + msg->len);
	assert_int_equal(msg->hdrc, 8);
	mem_deref(msg);
	free(data);
}

static void test_semiuri_transports(void **state)
{
	(void)state;
	struct sip_msg *msg = torture_parse("rfc4475/semiuri.dat");
	assert_pl(&msg->ruri.user, "user;par=u%40example.net");
	assert_pl(&msg->ruri.host, "example.com");
	assert_int_equal(msg->ruri.params.l, 0);
	assert_int_equal(count_values(msg, SIP_HDR_ACCEPT), 6);
	assert_true(sip_msg_hdr_has_token(msg, SIP_HDR_ACCEPT, "message/sipfrag"));
	mem_deref(msg);

	msg = torture_parse("rfc4475/transports.dat");
	static const char *const tps[] = { "UDP", "SCTP", "TLS", "UNKNOWN", "TCP" };
	assert_int_equal(msg->nvia, 5);
	size_t i = 0;
	for (const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_VIA); h; h = sip_msg_hdr_next(msg, h), i++) {
		struct sip_via via;
		assert_int_equal(sip_via_parse(&via, &h->val), 0);
		assert_pl(&via.transport, tps[i]);
	}
	assert_int_equal(i, 5);
	assert_pl(&msg->callid, "transports.kijh4akdnaqjkwendsasfdj");
	mem_deref(msg);
}

/* RFC 4475 §3.1.1.11: a binary body is exactly Content-Length bytes */
static void test_mpart01(void **state)
{
	(void)state;
	size_t len;
	char *data = torture_read("rfc4475/mpart01.dat", &len);
	struct sip_msg *msg = torture_parse("rfc4475/mpart01.dat");
	assert_int_equal(msg->clen, 553);
	assert_int_equal(msg->body.l, 553);
	assert_int_equal(msg->len, len);
	assert_memory_equal(msg->body.p, data + len - 553, 553);
	size_t nuls = 0;
	for (size_t i = 0; i < msg->body.l; i++)
		nuls += msg->body.p[i] == '\0';
	assert_int_equal(nuls, 2);
	assert_pl(&msg->ctype, "multipart/mixed;boundary=7a9cbec02ceef655");
	assert_true(msg->via.has_rport);
	assert_int_equal(msg->via.rport.l, 0);
	assert_int_equal(msg->via.port, 5070);
	mem_deref(msg);
	free(data);
}

static void test_reason_phrases(void **state)
{
	(void)state;
	struct sip_msg *msg = torture_parse("rfc4475/unreason.dat");
	assert_false(msg->req);
	assert_int_equal(msg->scode, 200);
	assert_pl(&msg->reason, "= 2**3 * 5**2 \xd0\xbd\xd0\xbe \xd1\x81\xd1\x82\xd0\xbe "
		  "\xd0\xb4\xd0\xb5\xd0\xb2\xd1\x8f\xd0\xbd\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe "
		  "\xd0\xb4\xd0\xb5\xd0\xb2\xd1\x8f\xd1\x82\xd1\x8c - "
		  "\xd0\xbf\xd1\x80\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe\xd0\xb5");
	assert_int_equal(msg->body.l, 154);
	assert_int_equal(msg->cseq.num, 35);
	assert_int_equal(msg->cseq.mid, SIP_INVITE);
	mem_deref(msg);

	msg = torture_parse("rfc4475/noreason.dat");
	assert_false(msg->req);
	assert_int_equal(msg->scode, 100);
	assert_non_null(msg->reason.p);
	assert_int_equal(msg->reason.l, 0);
	assert_pl(&msg->to.tag, "902jndnke3");
	mem_deref(msg);
}

/* Messages with semantic problems parse; the stack decides what to answer, from
 * the fields checked here. */
static void test_semantic_fields(void **state)
{
	(void)state;
	struct sip_msg *msg = torture_parse("rfc4475/badbranch.dat");
	assert_pl(&msg->via.branch, "z9hG4bK");
	assert_false(sip_branch_is_3261(&msg->via.branch));
	mem_deref(msg);

	msg = torture_parse("rfc4475/unkscm.dat");
	assert_int_equal(msg->ruri.scheme_id, SIP_SCHEME_OTHER);
	assert_pl(&msg->ruri.scheme, "nobodyKnowsThisScheme");
	assert_pl(&msg->ruri.opaque, "totallyopaquecontent");
	mem_deref(msg);

	msg = torture_parse("rfc4475/novelsc.dat");
	assert_int_equal(msg->ruri.scheme_id, SIP_SCHEME_OTHER);
	assert_pl(&msg->ruri.scheme, "soap.beep");
	mem_deref(msg);

	msg = torture_parse("rfc4475/unksm2.dat");
	assert_int_equal(msg->ruri.scheme_id, SIP_SCHEME_SIP);
	assert_int_equal(msg->to.uri.scheme_id, SIP_SCHEME_OTHER);
	assert_pl(&msg->to.uri.scheme, "isbn");
	assert_pl(&msg->from.uri.scheme, "http");
	assert_pl(&msg->from.tag, "3234233");
	mem_deref(msg);

	msg = torture_parse("rfc4475/bext01.dat");
	assert_true(sip_msg_hdr_has_token(msg, SIP_HDR_REQUIRE, "nothingSupportsThis"));
	assert_true(sip_msg_hdr_has_token(msg, SIP_HDR_REQUIRE, "NOTHINGSUPPORTSTHISEITHER"));
	assert_false(sip_msg_hdr_has_token(msg, SIP_HDR_REQUIRE, "nothing"));
	assert_true(sip_msg_hdr_has_token(msg, SIP_HDR_PROXY_REQUIRE, "norDoAnyProxiesSupportThis"));
	assert_false(sip_msg_hdr_has_token(msg, SIP_HDR_SUPPORTED, "nothingSupportsThis"));
	mem_deref(msg);

	msg = torture_parse("rfc4475/invut.dat");
	assert_pl(&msg->ctype, "application/unknownformat");
	assert_int_equal(msg->body.l, 40);
	mem_deref(msg);

	msg = torture_parse("rfc4475/regaut01.dat");
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_AUTHORIZATION);
	assert_non_null(h);
	assert_pl(&h->val, "NoOneKnowsThisScheme opaque-data=here");
	mem_deref(msg);

	msg = torture_parse("rfc4475/bcast.dat");
	assert_false(msg->req);
	assert_int_equal(msg->nvia, 2);
	h = sip_msg_hdr_next(msg, sip_msg_hdr(msg, SIP_HDR_VIA));
	struct sip_via via;
	assert_int_equal(sip_via_parse(&via, &h->val), 0);
	assert_pl(&via.host, "255.255.255.255");
	mem_deref(msg);

	msg = torture_parse("rfc4475/zeromf.dat");
	assert_int_equal(msg->maxfwd, 0);
	mem_deref(msg);

	msg = torture_parse("rfc4475/sdp01.dat");
	assert_true(sip_msg_hdr_has_token(msg, SIP_HDR_ACCEPT, "text/nobodyKnowsThis"));
	assert_false(sip_msg_hdr_has_token(msg, SIP_HDR_ACCEPT, "application/sdp"));
	mem_deref(msg);

	/* RFC 2543 syntax: no branch, no Max-Forwards, no Content-Length */
	msg = torture_parse("rfc4475/inv2543.dat");
	assert_int_equal(msg->via.branch.l, 0);
	assert_false(msg->has_clen);
	assert_int_equal(msg->maxfwd, -1);
	assert_true(msg->body.l > 0);
	assert_memory_equal(msg->body.p, "v=0", 3);
	assert_pl(&msg->to.uri.params, "");
	assert_pl(&msg->to.params, ";user=phone");
	mem_deref(msg);
}

/* RFC 4475 §3.3.12-14: what a registrar binds */
static void test_register_contacts(void **state)
{
	(void)state;
	struct sip_addr a;
	struct sip_msg *msg = torture_parse("rfc4475/cparam01.dat");
	/* addr-spec form: ";unknownparam" belongs to the Contact, not the URI */
	assert_int_equal(sip_addr_parse(&a, &sip_msg_hdr(msg, SIP_HDR_CONTACT)->val, true), 0);
	assert_pl(&a.auri, "sip:+19725552222@gw1.example.net");
	assert_pl(&a.uri.user, "+19725552222");
	assert_int_equal(a.uri.params.l, 0);
	assert_pl(&a.params, ";unknownparam");
	assert_true(sip_param_exists(&a.params, "unknownparam"));
	mem_deref(msg);

	msg = torture_parse("rfc4475/cparam02.dat");
	/* name-addr form: the parameter is the URI's */
	assert_int_equal(sip_addr_parse(&a, &sip_msg_hdr(msg, SIP_HDR_CONTACT)->val, true), 0);
	assert_pl(&a.auri, "sip:+19725552222@gw1.example.net;unknownparam");
	assert_pl(&a.uri.params, ";unknownparam");
	assert_int_equal(a.params.l, 0);
	mem_deref(msg);

	msg = torture_parse("rfc4475/regescrt.dat");
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	assert_pl(&h->name, "M");
	assert_int_equal(sip_addr_parse(&a, &h->val, true), 0);
	assert_pl(&a.uri.host, "example.com");
	assert_pl(&a.uri.headers, "Route=%3Csip:sip.example.com%3E");
	assert_int_equal(a.uri.params.l, 0);
	mem_deref(msg);
}

/* RFC 5118 */
static void test_ipv6(void **state)
{
	(void)state;
	struct sip_msg *msg = torture_parse("rfc5118/ipv6-good");
	assert_int_equal(msg->ruri.af, AF_INET6);
	assert_pl(&msg->ruri.host, "2001:db8::10");
	assert_int_equal(msg->ruri.port, 0);
	assert_int_equal(msg->via.af, AF_INET6);
	assert_pl(&msg->via.host, "2001:db8::9:1");
	assert_pl(&msg->via.sentby, "[2001:db8::9:1]");
	mem_deref(msg);

	msg = torture_parse("rfc5118/port-ambiguous");
	assert_int_equal(msg->ruri.af, AF_INET6);
	assert_pl(&msg->ruri.host, "2001:db8::10:5070");
	assert_int_equal(msg->ruri.port, 0);
	mem_deref(msg);

	msg = torture_parse("rfc5118/port-unambiguous");
	assert_int_equal(msg->ruri.af, AF_INET6);
	assert_pl(&msg->ruri.host, "2001:db8::10");
	assert_int_equal(msg->ruri.port, 5070);
	mem_deref(msg);

	msg = torture_parse("rfc5118/via-received-param-with-delim");
	assert_pl(&msg->via.received, "[2001:db8::9:255]");
	assert_pl(&msg->via.branch, "z9hG4bKas3-111");
	mem_deref(msg);

	msg = torture_parse("rfc5118/via-received-param-no-delim");
	assert_pl(&msg->via.received, "2001:db8::9:255");
	assert_pl(&msg->via.branch, "z9hG4bKas3");
	mem_deref(msg);

	msg = torture_parse("rfc5118/mult-ip-in-header");
	assert_int_equal(msg->nvia, 3);
	assert_pl(&msg->via.host, "2001:db8::9:1");
	assert_int_equal(msg->via.port, 6050);
	mem_deref(msg);

	msg = torture_parse("rfc5118/ipv4-mapped-ipv6");
	assert_int_equal(msg->via.af, AF_INET6);
	assert_pl(&msg->via.host, "::ffff:192.0.2.10");
	assert_int_equal(msg->via.port, 19823);
	assert_int_equal(msg->body.l, 236);
	mem_deref(msg);

	msg = torture_parse("rfc5118/ipv6-correct-abnf-2-colons");
	assert_int_equal(msg->ruri.af, AF_INET6);
	assert_pl(&msg->ruri.host, "2001:db8::192.0.2.1");
	mem_deref(msg);
}

/* Rejections: the status the manifest wants and a reason saying why. */
static void test_corpus_reasons(void **state)
{
	(void)state;
	static const struct {
		const char *rel;
		uint16_t scode;
		const char *reason;
	} cases[] = {
		{ "rfc4475/insuf.dat", 400, "Missing From header" },
		{ "rfc4475/multi01.dat", 400, "Multiple CSeq headers" },
		{ "rfc4475/mcl01.dat", 400, "Multiple Content-Length headers" },
		{ "rfc4475/badvers.dat", 505, "Version Not Supported" },
		{ "rfc4475/ncl.dat", 400, "Bad Content-Length header" },
		{ "rfc4475/clerr.dat", 400, "Content-Length larger than the message" },
		{ "rfc4475/mismatch01.dat", 400, "CSeq method does not match the request method" },
		{ "rfc4475/mismatch02.dat", 400, "CSeq method does not match the request method" },
		{ "rfc4475/ltgtruri.dat", 400, "Bad Request-URI" },
		{ "rfc4475/lwsruri.dat", 400, "Bad Request-Line" },
		{ "rfc4475/quotbal.dat", 400, "Bad To header" },
		{ "rfc4475/baddn.dat", 400, "Bad From header" },
		{ "rfc4475/scalar02.dat", 400, "Bad CSeq header" },
		{ "rfc5118/ipv6-bad", 400, "Bad Request-URI" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *data = torture_read(cases[i].rel, &len);
		struct sip_msg *msg;
		struct sip_perr perr;
		assert_int_equal(sip_msg_parse(&msg, data, len, 0, &perr), EBADMSG);
		if (perr.scode != cases[i].scode || strcmp(perr.reason, cases[i].reason))
			fail_msg("%s: %u %s", cases[i].rel, perr.scode, perr.reason);
		/* returned for answering, with the headers a response copies */
		assert_non_null(msg);
		assert_non_null(sip_msg_hdr(msg, SIP_HDR_VIA));
		assert_non_null(sip_msg_hdr(msg, SIP_HDR_CSEQ));
		mem_deref(msg);
		free(data);
	}
}

/* ---- hand-written messages ---- */

#define VIA "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
#define MF "Max-Forwards: 70\r\n"
#define TO "To: Bob <sip:bob@example.com>\r\n"
#define FROM "From: Alice <sip:alice@example.com>;tag=1928301774\r\n"
#define CID "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
#define CSEQ "CSeq: 314159 INVITE\r\n"
#define RL "INVITE sip:bob@example.com SIP/2.0\r\n"
#define BASE RL VIA MF TO FROM CID CSEQ

static void test_minimal_and_line_ends(void **state)
{
	(void)state;
	struct sip_msg *msg = expect_ok(BASE "Content-Length: 4\r\n\r\nabcd", 0);
	assert_int_equal(msg->hdrc, 7);
	assert_pl(&msg->body, "abcd");
	assert_int_equal(msg->cseq.num, 314159);
	assert_pl(&msg->to.dname, "Bob");
	assert_int_equal(msg->to.tag.l, 0);
	assert_int_equal(msg->via.port, 5060);
	mem_deref(msg);

	/* bare LF line ends are tolerated */
	msg = expect_ok("OPTIONS sip:a@example.com SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\n"
			"From: <sip:b@example.com>;tag=1\nTo: <sip:a@example.com>\nCall-ID: x\n"
			"CSeq: 1 OPTIONS\nContent-Length: 2\n\nhi", 0);
	assert_pl(&msg->callid, "x");
	assert_pl(&msg->body, "hi");
	assert_pl(&msg->via.branch, "z9hG4bKx");
	mem_deref(msg);

	/* UDP without Content-Length: the body is the rest of the datagram */
	msg = expect_ok(BASE "\r\nrest of it", 0);
	assert_false(msg->has_clen);
	assert_pl(&msg->body, "rest of it");
	mem_deref(msg);

	/* no empty line at all: the datagram ended with the headers */
	msg = expect_ok(BASE, 0);
	assert_int_equal(msg->body.l, 0);
	mem_deref(msg);

	struct sip_msg *m = (struct sip_msg *)&m;
	struct sip_perr perr;
	assert_int_equal(sip_msg_parse(&m, "", 0, 0, &perr), EBADMSG);
	assert_null(m);
	assert_int_equal(perr.scode, 0);
}

static void test_start_line(void **state)
{
	(void)state;
	expect_reject("INVITE sip:bob@example.com SIP/2.1\r\n" VIA MF TO FROM CID CSEQ "\r\n", 0, 505,
		      "Version Not Supported");
	expect_reject("INVITE sip:bob@example.com HTTP/1.1\r\n" VIA MF TO FROM CID CSEQ "\r\n", 0, 400,
		      "Bad SIP version");
	expect_reject("INVITE sip:bob@example.com\r\n" VIA MF TO FROM CID CSEQ "\r\n", 0, 400, "Bad Request-Line");
	expect_reject("INVITE sip:bob@example.com SIP/2.0 extra\r\n" VIA MF TO FROM CID CSEQ "\r\n", 0, 400,
		      "Bad Request-Line");
	expect_reject("INVITE <sip:bob@example.com> SIP/2.0\r\n" VIA MF TO FROM CID CSEQ "\r\n", 0, 400,
		      "Bad Request-URI");
	expect_reject("INV ITE sip:bob@example.com SIP/2.0\r\n" VIA MF TO FROM CID CSEQ "\r\n", 0, 400,
		      "Bad Request-Line");
	/* not even a method: nothing to answer */
	expect_reject("INV@ITE sip:bob@example.com SIP/2.0\r\n" VIA MF TO FROM CID CSEQ "\r\n", 0, 0,
		      "Bad request line");
	/* status lines that cannot be answered are dropped */
	expect_reject("SIP/2.0 99 Odd\r\n" VIA TO FROM CID CSEQ "\r\n", 0, 0, "Bad status code");
	expect_reject("SIP/2.0 700 Odd\r\n" VIA TO FROM CID CSEQ "\r\n", 0, 0, "Bad status code");
	expect_reject("SIP/2.0 2000 Odd\r\n" VIA TO FROM CID CSEQ "\r\n", 0, 0, "Bad status code");
	expect_reject("SIP/2.0 20x Odd\r\n" VIA TO FROM CID CSEQ "\r\n", 0, 0, "Bad status code");
	expect_reject("SIP/3.0 200 OK\r\n" VIA TO FROM CID CSEQ "\r\n", 0, 0, "Bad status line");
	/* a response missing a header is dropped, never answered */
	expect_reject("SIP/2.0 200 OK\r\n" VIA TO FROM CSEQ "\r\n", 0, 0, "Missing Call-ID header");

	struct sip_msg *msg = expect_ok("SIP/2.0 486 Busy Here\r\n" VIA TO FROM CID CSEQ "\r\n", 0);
	assert_false(msg->req);
	assert_int_equal(msg->scode, 486);
	assert_pl(&msg->reason, "Busy Here");
	mem_deref(msg);
}

static void test_missing_essentials(void **state)
{
	(void)state;
	static const struct {
		const char *line, *name;
	} hs[] = {
		{ VIA, "Via" }, { FROM, "From" }, { TO, "To" }, { CID, "Call-ID" }, { CSEQ, "CSeq" },
	};
	for (size_t skip = 0; skip < 5; skip++) {
		char buf[1024] = RL MF;
		for (size_t i = 0; i < 5; i++) {
			if (i != skip)
				strcat(buf, hs[i].line);
		}
		strcat(buf, "Content-Length: 0\r\n\r\n");
		char reason[64];
		snprintf(reason, sizeof(reason), "Missing %s header", hs[skip].name);
		expect_reject(buf, 0, 400, reason);
	}
	/* Max-Forwards and Content-Length are optional on UDP */
	struct sip_msg *msg = expect_ok(RL VIA TO FROM CID CSEQ "\r\n", 0);
	assert_int_equal(msg->maxfwd, -1);
	mem_deref(msg);
}

static void test_bad_essentials(void **state)
{
	(void)state;
	expect_reject(RL "Via: SIP/2.0/UDP\r\n" MF TO FROM CID CSEQ "\r\n", 0, 400, "Bad Via header");
	expect_reject(RL "Via: SIP/2.0/UDP a.example.com,\r\n" MF TO FROM CID CSEQ "\r\n", 0, 400, "Bad Via header");
	/* an empty Via is no Via: it must not pass with msg->via left unset */
	expect_reject(RL "Via:\r\n" MF TO FROM CID CSEQ "\r\n", 0, 400, "Bad Via header");
	expect_reject(RL "Via: \r\n" VIA MF TO FROM CID CSEQ "\r\n", 0, 400, "Bad Via header");
	expect_reject(RL VIA "v:\r\n  \r\n" MF TO FROM CID CSEQ "\r\n", 0, 400, "Bad Via header");
	expect_reject(RL VIA MF "To: sip:bob@example.com;tag=\r\n" FROM CID CSEQ "\r\n", 0, 400, "Bad To header");
	expect_reject(RL VIA MF TO "From: \"Alice <sip:a@example.com>\r\n" CID CSEQ "\r\n", 0, 400, "Bad From header");
	expect_reject(RL VIA MF TO FROM "Call-ID: a b\r\n" CSEQ "\r\n", 0, 400, "Bad Call-ID header");
	expect_reject(RL VIA MF TO FROM "Call-ID:   \r\n" CSEQ "\r\n", 0, 400, "Bad Call-ID header");
	expect_reject(RL VIA MF TO FROM CID "CSeq: 1\r\n\r\n", 0, 400, "Bad CSeq header");
	expect_reject(RL VIA MF TO FROM CID "CSeq: INVITE\r\n\r\n", 0, 400, "Bad CSeq header");
	expect_reject(RL VIA MF TO FROM CID "CSeq: -1 INVITE\r\n\r\n", 0, 400, "Bad CSeq header");
	expect_reject(RL VIA MF TO FROM CID "CSeq: 1 BYE\r\n\r\n", 0, 400,
		      "CSeq method does not match the request method");
	/* methods are case-sensitive */
	expect_reject(RL VIA MF TO FROM CID "CSeq: 1 invite\r\n\r\n", 0, 400,
		      "CSeq method does not match the request method");
	expect_reject(BASE "Max-Forwards: 7x\r\n\r\n", 0, 400, "Multiple Max-Forwards headers");
	expect_reject(RL VIA "Max-Forwards: 7x\r\n" TO FROM CID CSEQ "\r\n", 0, 400, "Bad Max-Forwards header");
	expect_reject(BASE "Expires: soon\r\n\r\n", 0, 400, "Bad Expires header");
	expect_reject(BASE "Header without colon\r\n\r\n", 0, 400, "Header line without colon");
	expect_reject(BASE "Bad Name: x\r\n\r\n", 0, 400, "Bad header name");
	expect_reject(BASE ": x\r\n\r\n", 0, 400, "Bad header name");
}

/* RFC 3261 §8.1.1.5: CSeq below 2**31; Max-Forwards 0-255. */
static void test_scalar_ranges(void **state)
{
	(void)state;
	struct sip_msg *msg = expect_ok(RL VIA MF TO FROM CID "CSeq: 2147483647 INVITE\r\n\r\n", 0);
	assert_int_equal(msg->cseq.num, 2147483647u);
	mem_deref(msg);
	expect_reject(RL VIA MF TO FROM CID "CSeq: 2147483648 INVITE\r\n\r\n", 0, 400, "Bad CSeq header");
	expect_reject(RL VIA MF TO FROM CID "CSeq: 4294967296 INVITE\r\n\r\n", 0, 400, "Bad CSeq header");
	expect_reject(RL VIA MF TO FROM CID "CSeq: 99999999999999999999999 INVITE\r\n\r\n", 0, 400,
		      "Bad CSeq header");

	msg = expect_ok(RL VIA "Max-Forwards: 255\r\n" TO FROM CID CSEQ "\r\n", 0);
	assert_int_equal(msg->maxfwd, 255);
	mem_deref(msg);
	msg = expect_ok(RL VIA "Max-Forwards: 0\r\n" TO FROM CID CSEQ "\r\n", 0);
	assert_int_equal(msg->maxfwd, 0);
	mem_deref(msg);
	expect_reject(RL VIA "Max-Forwards: 256\r\n" TO FROM CID CSEQ "\r\n", 0, 400, "Bad Max-Forwards header");
	expect_reject(RL VIA "Max-Forwards: -1\r\n" TO FROM CID CSEQ "\r\n", 0, 400, "Bad Max-Forwards header");

	msg = expect_ok(BASE "Expires: 4294967295\r\n\r\n", 0);
	mem_deref(msg);
	expect_reject(BASE "Expires: 4294967296\r\n\r\n", 0, 400, "Bad Expires header");
}

static void test_duplicates(void **state)
{
	(void)state;
	static const struct {
		const char *line, *name;
	} d[] = {
		{ "Call-ID: other@example.com\r\n", "Call-ID" },
		{ "i: other@example.com\r\n", "Call-ID" }, /* compact form counts too */
		{ "CSeq: 314159 INVITE\r\n", "CSeq" },
		{ "From: <sip:x@example.com>;tag=2\r\n", "From" },
		{ "f: <sip:x@example.com>;tag=2\r\n", "From" },
		{ "To: <sip:x@example.com>\r\n", "To" },
		{ "t: <sip:x@example.com>\r\n", "To" },
		{ "Max-Forwards: 70\r\n", "Max-Forwards" },
		{ "Content-Type: text/plain\r\nContent-Type: text/plain\r\n", "Content-Type" },
		{ "Content-Length: 0\r\nl: 0\r\n", "Content-Length" },
		{ "Expires: 1\r\nexpires: 1\r\n", "Expires" },
	};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		char buf[1024];
		snprintf(buf, sizeof(buf), BASE "%s\r\n", d[i].line);
		char reason[64];
		snprintf(reason, sizeof(reason), "Multiple %s headers", d[i].name);
		expect_reject(buf, 0, 400, reason);
	}
	/* list headers may repeat */
	struct sip_msg *msg = expect_ok(BASE "Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n"
					"Contact: <sip:a@h1>\r\nContact: <sip:a@h2>\r\nm: <sip:a@h3>\r\n"
					"Route: <sip:p1;lr>\r\nRoute: <sip:p2;lr>\r\n"
					"Require: a\r\nRequire: b\r\n\r\n", 0);
	assert_int_equal(msg->nvia, 2);
	assert_pl(&msg->via.host, "192.0.2.1");
	assert_int_equal(count_hdrs(msg, SIP_HDR_CONTACT), 3);
	assert_int_equal(count_hdrs(msg, SIP_HDR_ROUTE), 2);
	assert_true(sip_msg_hdr_has_token(msg, SIP_HDR_REQUIRE, "b"));
	mem_deref(msg);
}

static void test_folding(void **state)
{
	(void)state;
	struct sip_msg *msg = expect_ok(RL VIA MF "To:\r\n Bob\r\n\t<sip:bob@example.com>\r\n  ;tag=abc\r\n"
					FROM CID "CSeq:\r\n 314159\r\n INVITE\r\n"
					"Subject: first\r\n second\r\n\tthird  \r\n\r\n", 0);
	assert_pl(&msg->to.tag, "abc");
	assert_pl(&msg->to.uri.user, "bob");
	assert_pl(&msg->to.dname, "Bob");
	assert_int_equal(msg->cseq.num, 314159);
	assert_int_equal(msg->cseq.mid, SIP_INVITE);
	assert_pl(&sip_msg_hdr(msg, SIP_HDR_SUBJECT)->val, "first\r\n second\r\n\tthird");
	assert_pl(&msg->callid, "a84b4c76e66710@pc33.example.com");
	assert_int_equal(msg->hdrc, 7);
	mem_deref(msg);

	/* a continuation with nothing to continue: no header was indexed, so there is
	 * nothing to answer with */
	expect_reject(RL " Via: SIP/2.0/UDP h\r\n" VIA MF TO FROM CID CSEQ "\r\n", 0, 0, "Bad folded header line");
	/* a Via folded around '/' and between values */
	msg = expect_ok(RL "Via: SIP /\r\n 2.0 / UDP\r\n  h1.example.com;branch=z9hG4bK1 ,\r\n"
			" SIP/2.0/TCP h2.example.com\r\n" MF TO FROM CID CSEQ "\r\n", 0);
	assert_int_equal(msg->nvia, 2);
	assert_pl(&msg->via.host, "h1.example.com");
	assert_pl(&msg->via.branch, "z9hG4bK1");
	mem_deref(msg);
}

static void test_content_length(void **state)
{
	(void)state;
	expect_reject(BASE "Content-Length: 5\r\n\r\nabcd", 0, 400, "Content-Length larger than the message");
	expect_reject(BASE "Content-Length: 65536\r\n\r\n", 0, 400, "Bad Content-Length header");
	expect_reject(BASE "Content-Length: 18446744073709551616\r\n\r\n", 0, 400, "Bad Content-Length header");
	expect_reject(BASE "Content-Length: -4\r\n\r\nabcd", 0, 400, "Bad Content-Length header");
	expect_reject(BASE "Content-Length: 4x\r\n\r\nabcd", 0, 400, "Bad Content-Length header");
	/* shorter than the datagram: the trailing octets are not the message's */
	struct sip_msg *msg = expect_ok(BASE "l: 2\r\n\r\nabcd", 0);
	assert_pl(&msg->body, "ab");
	assert_int_equal(msg->len, strlen(BASE "l: 2\r\n\r\nab"));
	assert_int_equal(msg->buf[msg->len], '\0');
	mem_deref(msg);
}

static void test_stream_flag(void **state)
{
	(void)state;
	/* on a stream the length cannot be guessed (RFC 3261 §18.3) */
	expect_reject(BASE "\r\n", SIP_PARSE_STREAM, 400, "Missing Content-Length header");
	expect_reject(BASE "\r\nabcd", SIP_PARSE_STREAM, 400, "Missing Content-Length header");
	struct sip_msg *msg = expect_ok(BASE "\r\nabcd", 0);
	assert_int_equal(msg->body.l, 4);
	mem_deref(msg);
	msg = expect_ok(BASE "Content-Length: 4\r\n\r\nabcd", SIP_PARSE_STREAM);
	assert_pl(&msg->body, "abcd");
	assert_true(msg->has_clen);
	mem_deref(msg);
	/* a response without Content-Length on a stream is dropped */
	expect_reject("SIP/2.0 200 OK\r\n" VIA TO FROM CID CSEQ "\r\n", SIP_PARSE_STREAM, 0,
		      "Missing Content-Length header");
}

static void test_limits(void **state)
{
	(void)state;
	/* SIP_MSG_MAX_HDRS header fields are fine, one more is not */
	size_t cap = 256 * 32 + 1024;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (int extra = SIP_MSG_MAX_HDRS - 7; extra <= SIP_MSG_MAX_HDRS - 6; extra++) {
		/* BASE holds 6 header fields, then extra, then Content-Length */
		size_t n = (size_t)snprintf(buf, cap, "%s", BASE);
		for (int i = 0; i < extra; i++)
			n += (size_t)snprintf(buf + n, cap - n, "X-H%d: %d\r\n", i, i);
		n += (size_t)snprintf(buf + n, cap - n, "Content-Length: 0\r\n\r\n");
		assert_true(n < cap);
		if (6 + extra + 1 <= SIP_MSG_MAX_HDRS) {
			struct sip_msg *msg = expect_ok(buf, 0);
			assert_int_equal(msg->hdrc, SIP_MSG_MAX_HDRS);
			assert_non_null(sip_msg_hdr(msg, SIP_HDR_CONTENT_LENGTH));
			mem_deref(msg);
		} else {
			expect_reject(buf, 0, 400, "Too many header fields");
		}
	}
	free(buf);

	/* SIP_MSG_MAX_VIAS hops */
	cap = 80 * 80 + 1024;
	buf = malloc(cap);
	assert_non_null(buf);
	for (int nv = SIP_MSG_MAX_VIAS; nv <= SIP_MSG_MAX_VIAS + 1; nv++) {
		size_t n = (size_t)snprintf(buf, cap, RL MF TO FROM CID CSEQ);
		for (int i = 0; i < nv; i++)
			n += (size_t)snprintf(buf + n, cap - n, "Via: SIP/2.0/UDP h%d.example.com;branch=z9hG4bK%d\r\n", i, i);
		snprintf(buf + n, cap - n, "\r\n");
		if (nv <= SIP_MSG_MAX_VIAS) {
			struct sip_msg *msg = expect_ok(buf, 0);
			assert_int_equal(msg->nvia, nv);
			assert_pl(&msg->via.host, "h0.example.com");
			mem_deref(msg);
		} else {
			expect_reject(buf, 0, 400, "Too many Via headers");
		}
	}
	free(buf);

	/* SIP_MSG_MAX_SIZE bytes exactly, then one more */
	buf = malloc(SIP_MSG_MAX_SIZE + 2);
	assert_non_null(buf);
	const char *hdr = BASE "Content-Length: ";
	size_t hl = strlen(hdr);
	size_t body = SIP_MSG_MAX_SIZE - hl - 5 - 4; /* 5 digits, CRLFCRLF */
	int n = snprintf(buf, SIP_MSG_MAX_SIZE + 2, "%s%05zu\r\n\r\n", hdr, body);
	assert_int_equal((size_t)n, SIP_MSG_MAX_SIZE - body);
	memset(buf + n, 'x', body);
	struct sip_msg *msg;
	struct sip_perr perr;
	assert_int_equal(sip_msg_parse(&msg, buf, SIP_MSG_MAX_SIZE, 0, &perr), 0);
	assert_int_equal(msg->len, SIP_MSG_MAX_SIZE);
	assert_int_equal(msg->body.l, body);
	mem_deref(msg);
	buf[SIP_MSG_MAX_SIZE] = 'x';
	msg = (struct sip_msg *)&msg;
	assert_int_equal(sip_msg_parse(&msg, buf, SIP_MSG_MAX_SIZE + 1, 0, &perr), EBADMSG);
	assert_null(msg);
	assert_int_equal(perr.scode, 0);
	assert_string_equal(perr.reason, "Message too large");
	free(buf);
}

/* ---- stream framing ---- */

static void test_frame(void **state)
{
	(void)state;
	const char *m1 = BASE "Content-Length: 4\r\n\r\nabcd";
	const char *m2 = "SIP/2.0 200 OK\r\n" VIA TO FROM CID CSEQ "l: 0\r\n\r\n";
	size_t l1 = strlen(m1), l2 = strlen(m2);
	char both[2048];
	snprintf(both, sizeof(both), "%s%s", m1, m2);
	size_t mlen = 0;

	/* every proper prefix needs more; the whole message frames exactly */
	for (size_t l = 0; l < l1; l++) {
		int err = sip_msg_frame(m1, l, &mlen);
		if (err != EAGAIN)
			fail_msg("prefix %zu: %d", l, err);
	}
	assert_int_equal(sip_msg_frame(m1, l1, &mlen), 0);
	assert_int_equal(mlen, l1);

	/* pipelined: the first message, then the second from where it ended */
	assert_int_equal(sip_msg_frame(both, l1 + l2, &mlen), 0);
	assert_int_equal(mlen, l1);
	assert_int_equal(sip_msg_frame(both + l1, l2, &mlen), 0);
	assert_int_equal(mlen, l2);
	/* the second one partially arrived */
	assert_int_equal(sip_msg_frame(both, l1 + 10, &mlen), 0);
	assert_int_equal(mlen, l1);
	assert_int_equal(sip_msg_frame(both + l1, 10, &mlen), EAGAIN);

	/* bare LF */
	const char *lf = "OPTIONS sip:a SIP/2.0\nContent-Length: 3\n\nabcXYZ";
	assert_int_equal(sip_msg_frame(lf, strlen(lf), &mlen), 0);
	assert_int_equal(mlen, strlen(lf) - 3);
	/* "l" at any case, with LWS before the colon */
	const char *cl = "OPTIONS sip:a SIP/2.0\r\nL  : 2\r\n\r\nab";
	assert_int_equal(sip_msg_frame(cl, strlen(cl), &mlen), 0);
	assert_int_equal(mlen, strlen(cl));
	/* an "l" inside another header's name is not Content-Length */
	const char *xl = "OPTIONS sip:a SIP/2.0\r\nX-Content-Length: 2\r\nl: 0\r\n\r\nab";
	assert_int_equal(sip_msg_frame(xl, strlen(xl), &mlen), 0);
	assert_int_equal(mlen, strlen(xl) - 2);

	/* a folded Content-Length frames as the parser reads it */
	const char *fold = BASE "Content-Length:\r\n   4\r\n\r\nabcdXX";
	assert_int_equal(sip_msg_frame(fold, strlen(fold), &mlen), 0);
	assert_int_equal(mlen, strlen(fold) - 2);
	struct sip_msg *fm = expect_ok(fold, 0);
	assert_int_equal(fm->len, mlen);
	mem_deref(fm);
	const char *fold2 = "OPTIONS sip:a SIP/2.0\r\nl:\r\n\t\r\n 2\r\nSubject: x\r\n\r\nab";
	assert_int_equal(sip_msg_frame(fold2, strlen(fold2), &mlen), 0);
	assert_int_equal(mlen, strlen(fold2));

	/* no usable Content-Length: EBADMSG, and the length of the header section */
	const char *nocl = BASE "\r\nabcd";
	assert_int_equal(sip_msg_frame(nocl, strlen(nocl), &mlen), EBADMSG);
	assert_int_equal(mlen, strlen(BASE "\r\n"));
	const char *dup = BASE "Content-Length: 4\r\nl: 4\r\n\r\nabcd";
	assert_int_equal(sip_msg_frame(dup, strlen(dup), &mlen), EBADMSG);
	assert_int_equal(mlen, strlen(dup) - 4);
	const char *dup2 = BASE "Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd";
	assert_int_equal(sip_msg_frame(dup2, strlen(dup2), &mlen), EBADMSG);
	const char *bad = BASE "Content-Length: four\r\n\r\nabcd";
	assert_int_equal(sip_msg_frame(bad, strlen(bad), &mlen), EBADMSG);
	const char *neg = BASE "Content-Length: -4\r\n\r\nabcd";
	assert_int_equal(sip_msg_frame(neg, strlen(neg), &mlen), EBADMSG);
	/* and the parser, given that header section, says why */
	expect_reject(nocl, SIP_PARSE_STREAM, 400, "Missing Content-Length header");

	/* over the limit */
	char *big = malloc(SIP_MSG_MAX_SIZE + 100);
	assert_non_null(big);
	memset(big, 'a', SIP_MSG_MAX_SIZE + 100);
	memcpy(big, "OPTIONS sip:a SIP/2.0\r\nX: ", 26);
	assert_int_equal(sip_msg_frame(big, SIP_MSG_MAX_SIZE, &mlen), EAGAIN);
	assert_int_equal(sip_msg_frame(big, SIP_MSG_MAX_SIZE + 1, &mlen), EMSGSIZE);
	/* a header section that ends, but past the limit */
	memcpy(big + SIP_MSG_MAX_SIZE - 1, "\r\n\r\n", 4);
	assert_int_equal(sip_msg_frame(big, SIP_MSG_MAX_SIZE + 3, &mlen), EMSGSIZE);
	memcpy(big + SIP_MSG_MAX_SIZE - 4, "\r\n\r\n", 4);
	assert_int_equal(sip_msg_frame(big, SIP_MSG_MAX_SIZE, &mlen), EBADMSG); /* fits; no Content-Length */
	assert_int_equal(mlen, SIP_MSG_MAX_SIZE);
	free(big);
	const char *huge = "OPTIONS sip:a SIP/2.0\r\nContent-Length: 65535\r\n\r\nab";
	assert_int_equal(sip_msg_frame(huge, strlen(huge), &mlen), EMSGSIZE);
	const char *over = "OPTIONS sip:a SIP/2.0\r\nContent-Length: 65536\r\n\r\nab";
	assert_int_equal(sip_msg_frame(over, strlen(over), &mlen), EBADMSG);
	/* the largest message that fits frames (needs more until all of it arrived) */
	char fit[128];
	const char *pre = "OPTIONS sip:a SIP/2.0\r\nContent-Length: ";
	size_t body = SIP_MSG_MAX_SIZE - strlen(pre) - 5 - 4;
	snprintf(fit, sizeof(fit), "%s%05zu\r\n\r\n", pre, body);
	assert_int_equal(sip_msg_frame(fit, strlen(fit), &mlen), EAGAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_every_file),
		cmocka_unit_test(test_corpus_prefixes_and_framing),
		cmocka_unit_test(test_wsinv),
		cmocka_unit_test(test_intmeth),
		cmocka_unit_test(test_esc01),
		cmocka_unit_test(test_escnull),
		cmocka_unit_test(test_esc02),
		cmocka_unit_test(test_lwsdisp_longreq),
		cmocka_unit_test(test_dblreq),
		cmocka_unit_test(test_semiuri_transports),
		cmocka_unit_test(test_mpart01),
		cmocka_unit_test(test_reason_phrases),
		cmocka_unit_test(test_semantic_fields),
		cmocka_unit_test(test_register_contacts),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_corpus_reasons),
		cmocka_unit_test(test_minimal_and_line_ends),
		cmocka_unit_test(test_start_line),
		cmocka_unit_test(test_missing_essentials),
		cmocka_unit_test(test_bad_essentials),
		cmocka_unit_test(test_scalar_ranges),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_folding),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_stream_flag),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_frame),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
