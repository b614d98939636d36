/* The trunks module's life: options, start and stop, and taking a new
 * configuration (config.c reads it, register.c keeps registrations with it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/mem.h"
#include "pbx/trunk/trunk_int.h"

const struct conf_opt trunk_opts[] = {
	{ "public-address", CONF_STR, "", 0, 0, NULL,
	  "the address written in SDP and Contact towards providers when pbxd is behind NAT (empty: the"
	  " address of the interface that reaches them)" },
	{ "trunk-retry-min", CONF_INT, "30", 1, 3600, NULL,
	  "seconds before a failed trunk registration is tried again; doubles with each failure" },
	{ "trunk-retry-max", CONF_INT, "600", 1, 86400, NULL, "the longest wait between trunk registration attempts" },
};
const size_t trunk_opts_count = sizeof(trunk_opts) / sizeof(trunk_opts[0]);

int trunks_alloc(struct trunks **tp, struct loop *loop, struct sip_stack *sip, const struct conf *conf)
{
	struct trunks *t = calloc(1, sizeof(*t));
	if (!t || hash_init(&t->counts, 256)) {
		free(t);
		return ENOMEM;
	}
	t->loop = loop;
	t->sip = sip;
	snprintf(t->public_addr, sizeof(t->public_addr), "%s", conf_str(conf, "public-address"));
	struct sa check;
	if (t->public_addr[0] && sa_set(&check, t->public_addr, 0)) {
		log_error("public-address: '%s' is not an IP address", t->public_addr);
		hash_close(&t->counts);
		free(t);
		return EINVAL;
	}
	t->retry_min_s = (uint32_t)conf_int(conf, "trunk-retry-min");
	t->retry_max_s = (uint32_t)conf_int(conf, "trunk-retry-max");
	if (t->retry_max_s < t->retry_min_s)
		t->retry_max_s = t->retry_min_s;
	*tp = t;
	return 0;
}

void trunks_free(struct trunks *t)
{
	if (!t)
		return;
	trunk_regs_free(t);
	trunk_counts_free(t);
	hash_close(&t->counts);
	mem_deref(t->conf);
	free(t);
}

/* pbxd connects over TLS only to peers it knows the name of: a TLS provider's
 * address is known by its hostname (what its certificate must name). */
static void tls_names(struct trunks *t, const struct trunk_conf *old, const struct trunk_conf *conf)
{
	struct sip_transport *tp = sip_stack_transport(t->sip);
	for (size_t i = 0; old && i < old->nprov; i++) {
		if (old->prov[i].tp == SIP_TP_TLS && sa_af(&old->prov[i].dest))
			sip_transport_tls_name(tp, &old->prov[i].dest, NULL);
	}
	for (size_t i = 0; i < conf->nprov; i++) {
		const struct trunk_provider *p = &conf->prov[i];
		if (p->tp == SIP_TP_TLS && sa_af(&p->dest) && sip_transport_tls_name(tp, &p->dest, p->tls_name))
			log_error("trunk %s: out of memory", p->name);
	}
}

void trunks_conf_apply(struct trunks *t, struct trunk_conf *conf)
{
	tls_names(t, t->conf, conf);
	mem_deref(t->conf);
	t->conf = mem_ref(conf);
	trunk_regs_reconcile(t);
}
