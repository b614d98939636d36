/* Starts the PBX modules and registers their SIP method handlers. */
#include "pbx/pbx.h"

#include <errno.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/mem.h"
#include "pbx/call.h"
#include "pbx/registrar.h"
#include "sip/auth.h"

const struct conf_opt pbx_opts[] = {
	{ "auth-nonce-lifetime", CONF_INT, "300", 10, 86400, NULL,
	  "seconds a digest nonce stays fresh before a client must re-authenticate" },
	{ "auth-algorithms", CONF_STR, "MD5,SHA-256", 0, 0, NULL,
	  "digest algorithms challenged, most preferred first (MD5, SHA-256, SHA-512-256); "
	  "MD5 first because most phones answer only the first challenge" },
};
const size_t pbx_opts_count = sizeof(pbx_opts) / sizeof(pbx_opts[0]);

struct pbx {
	struct sip_stack *sip;
	struct sip_auth *auth;
	struct registrar *reg;
	struct call_engine *calls;
};

int pbx_alloc(struct pbx **pp, struct sip_stack *sip, const struct conf *conf)
{
	struct pbx *p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->sip = sip;
	int err = sip_auth_alloc(&p->auth, (uint32_t)conf_int(conf, "auth-nonce-lifetime"));
	enum sip_auth_alg algs[4];
	size_t nalg = 0;
	if (!err && (sip_auth_offer_parse(conf_str(conf, "auth-algorithms"), algs, 4, &nalg) ||
		     sip_auth_offer_set(p->auth, algs, nalg))) {
		log_error("auth-algorithms: '%s' is not a list of MD5, SHA-256, SHA-512-256",
			  conf_str(conf, "auth-algorithms"));
		err = EINVAL;
	}
	if (!err)
		err = registrar_alloc(&p->reg, sip, p->auth);
	if (!err)
		err = call_engine_alloc(&p->calls, sip);
	if (err) {
		pbx_free(p);
		return err;
	}
	*pp = p;
	return 0;
}

void pbx_free(struct pbx *p)
{
	if (!p)
		return;
	call_engine_free(p->calls);
	registrar_free(p->reg);
	mem_deref(p->auth);
	free(p);
}
