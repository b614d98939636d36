/* OPTIONS pings to UDP devices (see keepalive.h). A one-second tick visits the
 * next slice of the location table, so that pings are spread evenly over the
 * period instead of leaving in one burst. */
#include "pbx/keepalive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "sip/print.h"
#include "sip/tsx.h"

const struct conf_opt keepalive_opts[] = {
	{ "register-keepalive", CONF_INT, "0", 0, 3600, NULL,
	  "seconds between OPTIONS keep-alives to each registered device, over the flow it registered"
	  " on (keeps its NAT open, finds devices that are gone); 0: none" },
	{ "register-keepalive-misses", CONF_INT, "3", 1, 100, NULL,
	  "keep-alives in a row a device may leave unanswered before its registration ends" },
};
const size_t keepalive_opts_count = sizeof(keepalive_opts) / sizeof(keepalive_opts[0]);

#define TICK_MS 1000

struct keepalive {
	struct loop *loop;
	struct sip_stack *sip;
	struct location *loc;
	uint32_t period_s, misses;
	uint32_t cursor;
	struct tmr tmr;
	uint64_t sent;
	struct list pings; /* in flight */
};

/* What a ping's answer needs to find its binding again: the binding may be gone
 * by then (the id is looked up, never a pointer kept). */
struct ping {
	struct keepalive *k;
	uint64_t id;
	struct sip_ctsx *t;
	struct le le;
};

static void on_answer(int err, const struct sip_msg *resp, void *arg)
{
	struct ping *p = arg;
	if (resp && resp->scode < 200)
		return; /* provisional: the final answer follows */
	list_unlink(&p->le);
	struct loc_binding *b = location_find(p->k->loc, p->id);
	if (b) {
		/* Any final answer, even 4xx/5xx, proves the device and its NAT are there. */
		if (resp)
			b->unanswered = 0;
		else if (++b->unanswered >= p->k->misses)
			location_unbind(p->k->loc, b, LOC_UNREACHABLE);
	}
	free(p);
}

static void ping(struct loc_binding *b, void *arg)
{
	struct keepalive *k = arg;
	if (b->path[0])
		return; /* a Path leads through a proxy, which keeps its own flow */
	/* A stream device is pinged over the connection it registered on (its flow,
	 * RFC 5626): that is the NAT binding to keep, and the proof it still works. */
	if (b->peer.tp != SIP_TP_UDP && (!b->peer.conn || !sip_conn_is_open(b->peer.conn))) {
		if (++b->unanswered >= k->misses)
			location_unbind(k->loc, b, LOC_UNREACHABLE);
		return;
	}
	struct sa local = b->peer.local;
	if (!sa_af(&local) && sip_transport_laddr(sip_stack_transport(k->sip), b->peer.tp, sa_af(&b->peer.addr), &local))
		return;
	char sentby[80], branch[48], tag[24], callid[48];
	sa_str(&local, sentby, sizeof(sentby));
	sip_branch_new(branch, sizeof(branch));
	snprintf(tag, sizeof(tag), "%016llx", (unsigned long long)(b->id ^ k->sent));
	snprintf(callid, sizeof(callid), "ka-%llx-%llx", (unsigned long long)b->id, (unsigned long long)k->sent);
	char from[120], to[STORE_CONTACT_SZ + 4];
	snprintf(from, sizeof(from), "<sip:keepalive@%s>", sentby);
	snprintf(to, sizeof(to), "<%s>", b->contact);
	struct sip_req_spec r = { .method = "OPTIONS", .ruri = b->contact, .via_transport = sip_transport_name(b->peer.tp),
				  .via_sentby = sentby, .branch = branch, .from = from, .from_tag = tag, .to = to,
				  .callid = callid, .cseq = 1 };
	struct mbuf *mb = mbuf_alloc(512, 4096);
	struct ping *p = malloc(sizeof(*p));
	if (!mb || !p || sip_print_request(mb, &r)) {
		mem_deref(mb);
		free(p);
		return;
	}
	p->k = k;
	p->id = b->id;
	if (sip_ctsx_send(&p->t, sip_stack_tsx(k->sip), &b->peer, mb, on_answer, p))
		free(p);
	else
		list_append(&k->pings, &p->le, p);
	mem_deref(mb);
	k->sent++;
}

static void on_tick(void *arg)
{
	struct keepalive *k = arg;
	uint32_t n = location_buckets(k->loc), step = (n + k->period_s - 1) / k->period_s;
	uint32_t to = k->cursor + step < n ? k->cursor + step : n;
	location_walk(k->loc, k->cursor, to, ping, k);
	k->cursor = to < n ? to : 0;
	tmr_start(loop_timers(k->loop), &k->tmr, TICK_MS, on_tick, k);
}

static void ka_destroy(void *arg)
{
	struct keepalive *k = arg;
	tmr_cancel(&k->tmr);
	/* Pings still out: their transactions finish alone, unheard. */
	while (k->pings.head) {
		struct ping *p = k->pings.head->data;
		list_unlink(&p->le);
		sip_ctsx_abandon(p->t);
		free(p);
	}
}

int keepalive_alloc(struct keepalive **kp, struct loop *loop, struct sip_stack *sip, struct location *loc,
		    const struct conf *conf)
{
	struct keepalive *k = mem_zalloc(sizeof(*k), ka_destroy);
	if (!k)
		return ENOMEM;
	k->loop = loop;
	k->sip = sip;
	k->loc = loc;
	k->period_s = (uint32_t)conf_int(conf, "register-keepalive");
	k->misses = (uint32_t)conf_int(conf, "register-keepalive-misses");
	if (k->period_s)
		tmr_start(loop_timers(loop), &k->tmr, TICK_MS, on_tick, k);
	*kp = k;
	return 0;
}
