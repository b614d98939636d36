/* SDP parser and printer (RFC 8866). Strict on what the call and media engines
 * act on (line syntax, v=0 first, o= and s=, m= ports and formats, connection
 * addresses, counts) so that bad input gets a 488 with a reason; everything else
 * is kept as written and printed back unchanged. */
#include "sdp/sdp.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/mem.h"

/* The parse in progress: the section a= and c= lines go to, and the first error. */
struct pctx {
	struct sdp_session *s;
	struct sdp_media *m; /* NULL in the session section */
	const char *reason;
	bool dir_set;        /* current section has a direction attribute */
	bool sess_dir_set;
	unsigned mcap;       /* media sections allocated */
};

static int fail(struct pctx *c, const char *reason)
{
	if (!c->reason)
		c->reason = reason;
	return EBADMSG;
}

/* Splits the next SP-separated field off *rest (runs of SP count as one: some
 * phones pad m= lines). Returns false when none is left. */
static bool field_next(struct pl *rest, struct pl *f)
{
	while (rest->l && rest->p[0] == ' ') {
		rest->p++;
		rest->l--;
	}
	if (!rest->l)
		return false;
	size_t i = 0;
	while (i < rest->l && rest->p[i] != ' ')
		i++;
	*f = pl_from(rest->p, i);
	rest->p += i;
	rest->l -= i;
	return true;
}

static bool rest_empty(struct pl rest)
{
	struct pl f;
	return !field_next(&rest, &f);
}

static int u32_of(const struct pl *pl, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int err = pl_u64(pl, max, &v);
	if (!err)
		*out = (uint32_t)v;
	return err;
}

/* A numeric address of the family addrtype names: parsed once into conn->sa
 * and conn->af, both left zero otherwise. */
static bool addr_ok(struct sdp_conn *conn)
{
	int af;
	memset(&conn->sa, 0, sizeof(conn->sa));
	conn->af = 0;
	if (pl_eq_str(&conn->addrtype, "IP4"))
		af = AF_INET;
	else if (pl_eq_str(&conn->addrtype, "IP6"))
		af = AF_INET6;
	else
		return false;
	/* sa_set_pl takes "[v6]"; SDP writes the address bare. */
	if (!conn->addr.l || conn->addr.p[0] == '[')
		return false;
	struct sa sa;
	if (sa_set_pl(&sa, &conn->addr, 0) || sa_af(&sa) != af)
		return false;
	conn->sa = sa;
	conn->af = af;
	return true;
}

/* "IN IP4 addr[/ttl[/n]]" of c= (RFC 8866 §5.7). */
static int conn_parse(struct pctx *c, struct pl v, struct sdp_conn *conn)
{
	struct pl nettype, addrtype, addr;
	if (!field_next(&v, &nettype) || !field_next(&v, &addrtype) || !field_next(&v, &addr) ||
	    !rest_empty(v))
		return fail(c, "malformed c= line");
	if (!pl_eq_str(&nettype, "IN"))
		return fail(c, "c= network type is not IN");
	long slash = pl_chr(&addr, '/');
	conn->suffix = (struct pl)PL_INIT;
	if (slash >= 0) {
		conn->suffix = pl_from(addr.p + slash, addr.l - (size_t)slash);
		addr.l = (size_t)slash;
	}
	conn->addrtype = addrtype;
	conn->addr = addr;
	if (!addr_ok(conn))
		return fail(c, "c= address is not a valid IP4/IP6 address");
	return 0;
}

/* o= username sess-id sess-version nettype addrtype unicast-address (§5.2).
 * The address may be a host name, so it is only checked for characters. */
static int origin_parse(struct pctx *c, struct pl v)
{
	struct sdp_session *s = c->s;
	struct pl nettype;
	uint64_t n;
	if (!field_next(&v, &s->o_user) || !field_next(&v, &s->o_id) ||
	    !field_next(&v, &s->o_version) || !field_next(&v, &nettype) ||
	    !field_next(&v, &s->o_addr.addrtype) || !field_next(&v, &s->o_addr.addr) || !rest_empty(v))
		return fail(c, "malformed o= line");
	if (pl_u64(&s->o_id, UINT64_MAX, &n) || pl_u64(&s->o_version, UINT64_MAX, &n))
		return fail(c, "o= session id or version not a number");
	if (!pl_eq_str(&nettype, "IN"))
		return fail(c, "o= network type is not IN");
	addr_ok(&s->o_addr); /* af 0 for a host name */
	if (!pl_eq_str(&s->o_addr.addrtype, "IP4") && !pl_eq_str(&s->o_addr.addrtype, "IP6"))
		return fail(c, "o= address type is not IP4/IP6");
	return 0;
}

static int bw_parse(struct pctx *c, struct pl v, struct sdp_bw *bw, unsigned *nbw)
{
	long colon = pl_chr(&v, ':');
	if (*nbw >= SDP_MAX_BW)
		return fail(c, "too many b= lines");
	if (colon <= 0)
		return fail(c, "malformed b= line");
	struct pl num = pl_from(v.p + colon + 1, v.l - (size_t)colon - 1);
	bw[*nbw].type = pl_from(v.p, (size_t)colon);
	if (u32_of(&num, UINT32_MAX, &bw[*nbw].kbps))
		return fail(c, "b= bandwidth not a number");
	(*nbw)++;
	return 0;
}

/* RFC 3551 §6: the static payload types a phone may offer without a=rtpmap. */
static void fmt_static(struct sdp_fmt *f)
{
	static const struct {
		int pt;
		const char *name;
		uint32_t clock;
	} tab[] = {
		{ 0, "PCMU", 8000 }, { 3, "GSM", 8000 }, { 4, "G723", 8000 }, { 8, "PCMA", 8000 },
		{ 9, "G722", 8000 }, { 13, "CN", 8000 }, { 18, "G729", 8000 },
		{ 26, "JPEG", 90000 }, { 31, "H261", 90000 }, { 34, "H263", 90000 },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (tab[i].pt == f->pt) {
			f->name = pl_cstr(tab[i].name);
			f->clock = tab[i].clock;
			f->channels = 1;
		}
	}
}

static bool proto_is_rtp(const struct pl *proto)
{
	for (size_t i = 0; i + 4 <= proto->l; i++) {
		if (memcmp(proto->p + i, "RTP/", 4) == 0)
			return true;
	}
	return false;
}

/* m=<media> <port>[/<count>] <proto> <fmt> ... (§5.14) */
static int media_parse(struct pctx *c, struct pl v)
{
	struct sdp_session *s = c->s;
	struct pl port, f;
	uint32_t n;
	if (s->nmedia >= SDP_MAX_MEDIA || s->nmedia >= c->mcap)
		return fail(c, "too many m= lines");
	struct sdp_media *m = &s->media[s->nmedia++];
	c->m = m;
	c->dir_set = false;
	if (!field_next(&v, &m->type) || !field_next(&v, &port) || !field_next(&v, &m->proto))
		return fail(c, "malformed m= line");
	long slash = pl_chr(&port, '/');
	if (slash >= 0) {
		struct pl cnt = pl_from(port.p + slash + 1, port.l - (size_t)slash - 1);
		port.l = (size_t)slash;
		if (u32_of(&cnt, 65535, &n) || n == 0)
			return fail(c, "m= port count not a number");
		m->nports = (uint16_t)n;
	}
	if (u32_of(&port, 65535, &n))
		return fail(c, "m= port not a number (0-65535)");
	m->port = (uint16_t)n;
	bool rtp = proto_is_rtp(&m->proto);
	while (field_next(&v, &f)) {
		if (m->nfmts >= SDP_MAX_FMTS)
			return fail(c, "too many formats on an m= line");
		struct sdp_fmt *fmt = &m->fmts[m->nfmts++];
		fmt->id = f;
		fmt->pt = -1;
		if (rtp) {
			if (u32_of(&f, 127, &n))
				return fail(c, "m= payload type not a number (0-127)");
			fmt->pt = (int)n;
			fmt_static(fmt);
		}
	}
	if (!m->nfmts)
		return fail(c, "m= line without formats");
	m->dir = s->dir;
	return 0;
}

static struct sdp_fmt *fmt_find(struct sdp_media *m, const struct pl *id)
{
	for (unsigned i = 0; i < m->nfmts; i++) {
		if (pl_eq(&m->fmts[i].id, id))
			return &m->fmts[i];
	}
	return NULL;
}

/* a=rtpmap:<pt> <name>/<clock>[/<channels>] (§6.6) */
static int rtpmap_parse(struct pctx *c, struct pl v)
{
	struct pl id, enc;
	if (!field_next(&v, &id) || !field_next(&v, &enc) || !rest_empty(v))
		return fail(c, "malformed a=rtpmap");
	long s1 = pl_chr(&enc, '/');
	if (s1 <= 0)
		return fail(c, "malformed a=rtpmap");
	struct pl name = pl_from(enc.p, (size_t)s1);
	struct pl clock = pl_from(enc.p + s1 + 1, enc.l - (size_t)s1 - 1), chans = PL_INIT;
	long s2 = pl_chr(&clock, '/');
	if (s2 >= 0) {
		chans = pl_from(clock.p + s2 + 1, clock.l - (size_t)s2 - 1);
		clock.l = (size_t)s2;
	}
	uint32_t rate, ch = 1;
	if (u32_of(&clock, UINT32_MAX, &rate) || rate == 0 ||
	    (chans.p && (u32_of(&chans, 255, &ch) || ch == 0)))
		return fail(c, "malformed a=rtpmap");
	struct sdp_fmt *f = fmt_find(c->m, &id);
	if (f) { /* an rtpmap for a format not on the m= line is kept, not used */
		f->name = name;
		f->clock = rate;
		f->channels = (uint8_t)ch;
	}
	return 0;
}

/* a=rtcp:<port> [IN IP4 addr] (RFC 3605) */
static int rtcp_parse(struct pctx *c, struct pl v)
{
	struct pl port;
	uint32_t n;
	if (!field_next(&v, &port) || u32_of(&port, 65535, &n))
		return fail(c, "malformed a=rtcp");
	c->m->rtcp_port = (uint16_t)n;
	if (!rest_empty(v))
		return conn_parse(c, v, &c->m->rtcp_conn);
	return 0;
}

/* ptime may be written "20.0": the integer part is what matters. */
static int ptime_parse(struct pctx *c, struct pl v, uint32_t *out)
{
	long dot = pl_chr(&v, '.');
	if (dot >= 0)
		v.l = (size_t)dot;
	if (u32_of(&v, 10000, out))
		return fail(c, "malformed a=ptime/maxptime");
	return 0;
}

/* Indexed by enum sdp_dir. */
static const char *const dir_names[] = { "inactive", "sendonly", "recvonly", "sendrecv" };

static int dir_of(const struct pl *name, enum sdp_dir *dir)
{
	for (int i = 0; i < 4; i++) {
		if (pl_eq_str(name, dir_names[i])) {
			*dir = (enum sdp_dir)i;
			return 0;
		}
	}
	return ENOENT;
}

/* Decodes the attributes the engines use; every a= line is also kept raw. */
static int attr_parse(struct pctx *c, struct pl v)
{
	struct sdp_attr *attrs = c->m ? c->m->attrs : c->s->attrs;
	unsigned *n = c->m ? &c->m->nattrs : &c->s->nattrs;
	if (*n >= SDP_MAX_ATTRS)
		return fail(c, "too many a= lines in a section");
	struct sdp_attr *a = &attrs[(*n)++];
	long colon = pl_chr(&v, ':');
	a->name = colon >= 0 ? pl_from(v.p, (size_t)colon) : v;
	a->val = colon >= 0 ? pl_from(v.p + colon + 1, v.l - (size_t)colon - 1) : (struct pl)PL_INIT;
	if (!a->name.l)
		return fail(c, "a= line without a name");
	for (size_t i = 0; i < a->name.l; i++) {
		if (a->name.p[i] == ' ')
			return fail(c, "a= attribute name with a space");
	}

	enum sdp_dir dir;
	if (!a->val.p && dir_of(&a->name, &dir) == 0) {
		/* Several direction attributes in one section contradict each other. */
		if (c->m ? c->dir_set : c->sess_dir_set)
			return fail(c, "more than one direction attribute");
		if (c->m) {
			c->m->dir = dir;
			c->dir_set = true;
		} else {
			c->s->dir = dir;
			c->sess_dir_set = true;
		}
		return 0;
	}
	struct sdp_media *m = c->m;
	if (!m)
		return 0;
	struct pl val = a->val;
	if (pl_eq_str(&a->name, "rtpmap") && val.p)
		return rtpmap_parse(c, val);
	if (pl_eq_str(&a->name, "fmtp") && val.p) {
		struct pl id;
		struct pl rest = val;
		if (!field_next(&rest, &id))
			return fail(c, "malformed a=fmtp");
		struct sdp_fmt *f = fmt_find(m, &id);
		if (f) {
			while (rest.l && rest.p[0] == ' ') {
				rest.p++;
				rest.l--;
			}
			f->fmtp = rest;
		}
		return 0;
	}
	if (pl_eq_str(&a->name, "ptime") && val.p)
		return ptime_parse(c, val, &m->ptime);
	if (pl_eq_str(&a->name, "maxptime") && val.p)
		return ptime_parse(c, val, &m->maxptime);
	if (pl_eq_str(&a->name, "rtcp") && val.p)
		return rtcp_parse(c, val);
	if (pl_eq_str(&a->name, "rtcp-mux") && !val.p)
		m->rtcp_mux = true;
	else if (pl_eq_str(&a->name, "mid") && val.p)
		m->mid = val;
	else if (pl_eq_str(&a->name, "setup") && val.p)
		m->setup = val;
	else if (pl_eq_str(&a->name, "fingerprint") && val.p)
		m->fingerprint = val;
	else if (pl_eq_str(&a->name, "ice-ufrag") && val.p)
		m->ice_ufrag = val;
	else if (pl_eq_str(&a->name, "ice-pwd") && val.p)
		m->ice_pwd = val;
	return 0;
}

static int other_line(struct pctx *c, char type, struct pl v)
{
	struct sdp_line *lines = c->m ? c->m->other : c->s->other;
	unsigned *n = c->m ? &c->m->nother : &c->s->nother;
	if (*n >= SDP_MAX_OTHER)
		return fail(c, "too many i=/u=/e=/p=/r=/z=/k= lines");
	lines[*n].type = type;
	lines[*n].val = v;
	(*n)++;
	return 0;
}

/* One line after v=: which lines may appear where (§5: the order is fixed, but
 * only what matters to us is enforced: o= and s= once, in the session part). */
static int line_parse(struct pctx *c, char type, struct pl v, unsigned lineno)
{
	struct sdp_session *s = c->s;
	if ((lineno == 1) != (type == 'o'))
		return fail(c, "o= must be the second line");
	if ((lineno == 2) != (type == 's'))
		return fail(c, "s= must be the third line");
	switch (type) {
	case 'o':
		return origin_parse(c, v);
	case 's':
		s->name = v;
		return 0;
	case 'c':
		if (c->m ? c->m->has_conn : s->has_conn)
			return fail(c, "more than one c= line in a section");
		if (c->m) {
			c->m->has_conn = true;
			return conn_parse(c, v, &c->m->conn);
		}
		s->has_conn = true;
		return conn_parse(c, v, &s->conn);
	case 'b':
		return c->m ? bw_parse(c, v, c->m->bw, &c->m->nbw) : bw_parse(c, v, s->bw, &s->nbw);
	case 't':
		if (c->m)
			return fail(c, "t= inside a media section");
		if (s->ntimes >= SDP_MAX_TIMES)
			return fail(c, "too many t= lines");
		s->times[s->ntimes++] = v;
		return 0;
	case 'm':
		return media_parse(c, v);
	case 'a':
		return attr_parse(c, v);
	case 'i': case 'u': case 'e': case 'p': case 'r': case 'z': case 'k':
		if (c->m && type != 'i' && type != 'k')
			return fail(c, "session-level line inside a media section");
		return other_line(c, type, v);
	case 'v':
		return fail(c, "more than one v= line");
	default:
		/* §5: a description with a type letter we do not understand is ignored whole. */
		return fail(c, "unknown SDP line type");
	}
}

static bool char_ok(char ch)
{
	unsigned char u = (unsigned char)ch;
	return u >= 0x20 ? u != 0x7f : u == '\t';
}

/* Walks the lines; each is "x=value" ending in CRLF or LF (the last may end the
 * text). Blank lines are allowed only at the end, where some phones put one. */
static int lines_parse(struct pctx *c)
{
	const char *p = c->s->buf, *end = p + c->s->len;
	unsigned lineno = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		const char *le = eol ? eol : end;
		if (le > p && le[-1] == '\r')
			le--;
		if (le == p) {
			for (const char *q = next; q < end; q++) {
				if (*q != '\r' && *q != '\n')
					return fail(c, "blank line inside the description");
			}
			break;
		}
		if (le - p < 2 || p[1] != '=' || p[0] < 'a' || p[0] > 'z')
			return fail(c, "a line is not of the form x=value");
		for (const char *q = p + 2; q < le; q++) {
			if (!char_ok(*q))
				return fail(c, "control character in a line");
		}
		struct pl v = pl_from(p + 2, (size_t)(le - p - 2));
		if (lineno == 0) {
			if (p[0] != 'v' || !pl_eq_str(&v, "0"))
				return fail(c, "the first line is not v=0");
		} else if (line_parse(c, p[0], v, lineno)) {
			return EBADMSG;
		}
		lineno++;
		p = next;
	}
	if (lineno == 0)
		return fail(c, "empty description");
	if (!c->s->o_user.p)
		return fail(c, "no o= line");
	if (!c->s->name.p)
		return fail(c, "no s= line");
	return 0;
}

/* §5.7: every media section needs an address, its own or the session's. */
static int sections_check(struct pctx *c)
{
	struct sdp_session *s = c->s;
	for (unsigned i = 0; i < s->nmedia; i++) {
		struct sdp_media *m = &s->media[i];
		if (!m->has_conn && !s->has_conn && m->port != 0)
			return fail(c, "a media section has no c= line");
	}
	return 0;
}

static void session_destroy(void *data)
{
	struct sdp_session *s = data;
	mem_deref(s->buf);
}

/* The m= lines of the text, at most SDP_MAX_MEDIA: what to allocate for. */
static unsigned media_count(const char *data, size_t len)
{
	unsigned n = 0;
	for (size_t i = 0; i + 1 < len && n < SDP_MAX_MEDIA; i++) {
		if (data[i] == 'm' && data[i + 1] == '=' && (i == 0 || data[i - 1] == '\n'))
			n++;
	}
	return n;
}

int sdp_parse(struct sdp_session **sessp, const char *data, size_t len, const char **reason)
{
	static const char *const none = "";
	*sessp = NULL;
	*reason = none;
	if (len > SDP_MAX_SIZE) {
		*reason = "SDP too large";
		return EMSGSIZE;
	}
	unsigned mcap = media_count(data, len);
	struct sdp_session *s = mem_zalloc(sizeof(*s) + mcap * sizeof(s->media[0]), session_destroy);
	if (!s) {
		*reason = "out of memory";
		return ENOMEM;
	}
	s->buf = mem_strndup(data ? data : "", len);
	if (!s->buf) {
		mem_deref(s);
		*reason = "out of memory";
		return ENOMEM;
	}
	s->len = len;
	s->dir = SDP_SENDRECV;
	/* A NUL is refused by lines_parse: at a line start as not "x=", after as a
	 * control character. */
	struct pctx c = { .s = s, .mcap = mcap };
	if (lines_parse(&c) || sections_check(&c)) {
		*reason = c.reason ? c.reason : "malformed SDP";
		mem_deref(s);
		return EBADMSG;
	}
	*sessp = s;
	return 0;
}

const struct sdp_attr *sdp_attr_find(const struct sdp_attr *attrs, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++) {
		if (pl_eq_str(&attrs[i].name, name))
			return &attrs[i];
	}
	return NULL;
}

const char *sdp_dir_name(enum sdp_dir dir)
{
	return dir_names[dir & 3];
}

/* ---- printer ---- */

static int line_pl(struct mbuf *mb, char type, const struct pl *v)
{
	return mbuf_printf(mb, "%c=%.*s\r\n", type, (int)v->l, v->p ? v->p : "");
}

static int others_print(struct mbuf *mb, const struct sdp_line *lines, unsigned n, const char *types)
{
	int err = 0;
	for (const char *t = types; *t && !err; t++) {
		for (unsigned i = 0; i < n && !err; i++) {
			if (lines[i].type == *t)
				err = line_pl(mb, *t, &lines[i].val);
		}
	}
	return err;
}

static int conn_print(struct mbuf *mb, const struct sdp_conn *conn)
{
	return mbuf_printf(mb, "c=IN %.*s %.*s%.*s\r\n", (int)conn->addrtype.l, conn->addrtype.p,
			   (int)conn->addr.l, conn->addr.p, (int)conn->suffix.l,
			   conn->suffix.p ? conn->suffix.p : "");
}

static int bw_print(struct mbuf *mb, const struct sdp_bw *bw, unsigned nbw)
{
	int err = 0;
	for (unsigned i = 0; i < nbw && !err; i++)
		err = mbuf_printf(mb, "b=%.*s:%u\r\n", (int)bw[i].type.l, bw[i].type.p, bw[i].kbps);
	return err;
}

static int attrs_print(struct mbuf *mb, const struct sdp_attr *attrs, unsigned n)
{
	int err = 0;
	for (unsigned i = 0; i < n && !err; i++) {
		const struct sdp_attr *a = &attrs[i];
		if (a->val.p)
			err = mbuf_printf(mb, "a=%.*s:%.*s\r\n", (int)a->name.l, a->name.p, (int)a->val.l,
					  a->val.p);
		else
			err = mbuf_printf(mb, "a=%.*s\r\n", (int)a->name.l, a->name.p);
	}
	return err;
}

static int media_print(struct mbuf *mb, const struct sdp_media *m)
{
	int err = mbuf_printf(mb, "m=%.*s %u", (int)m->type.l, m->type.p, m->port);
	if (!err && m->nports)
		err = mbuf_printf(mb, "/%u", m->nports);
	if (!err)
		err = mbuf_printf(mb, " %.*s", (int)m->proto.l, m->proto.p);
	for (unsigned i = 0; i < m->nfmts && !err; i++)
		err = mbuf_printf(mb, " %.*s", (int)m->fmts[i].id.l, m->fmts[i].id.p);
	if (!err)
		err = mbuf_write_str(mb, "\r\n");
	if (!err)
		err = others_print(mb, m->other, m->nother, "i");
	if (!err && m->has_conn)
		err = conn_print(mb, &m->conn);
	if (!err)
		err = bw_print(mb, m->bw, m->nbw);
	if (!err)
		err = others_print(mb, m->other, m->nother, "k");
	if (!err)
		err = attrs_print(mb, m->attrs, m->nattrs);
	return err;
}

/* §5's order: v o s i u e p c b t r z k a, then the media sections. r= lines
 * are printed after all t= lines (a session with several t= and r= loses which
 * r= followed which t=; SIP sessions have one "t=0 0"). */
int sdp_print(struct mbuf *mb, const struct sdp_session *s)
{
	int err = mbuf_printf(mb, "v=0\r\no=%.*s %.*s %.*s IN %.*s %.*s\r\n", (int)s->o_user.l,
			      s->o_user.p, (int)s->o_id.l, s->o_id.p, (int)s->o_version.l, s->o_version.p,
			      (int)s->o_addr.addrtype.l, s->o_addr.addrtype.p, (int)s->o_addr.addr.l,
			      s->o_addr.addr.p);
	if (!err)
		err = line_pl(mb, 's', &s->name);
	if (!err)
		err = others_print(mb, s->other, s->nother, "iuep");
	if (!err && s->has_conn)
		err = conn_print(mb, &s->conn);
	if (!err)
		err = bw_print(mb, s->bw, s->nbw);
	for (unsigned i = 0; i < s->ntimes && !err; i++)
		err = line_pl(mb, 't', &s->times[i]);
	if (!err)
		err = others_print(mb, s->other, s->nother, "rzk");
	if (!err)
		err = attrs_print(mb, s->attrs, s->nattrs);
	for (unsigned i = 0; i < s->nmedia && !err; i++)
		err = media_print(mb, &s->media[i]);
	return err;
}
