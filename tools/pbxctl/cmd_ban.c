/* `pbxctl ban ...`: the SIP sources pbxd banned after failed authentications (a
 * system admin's job: a ban is of an address, whichever tenants it guessed at).
 * Lifting one also forgets its failures, so the source starts from zero. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "ctl.h"

static const struct ctl_col ban_cols[] = {
	{ "address", "ADDRESS" },
	{ "prefix", "PREFIX" },
	{ "failures", "FAILURES" },
	{ "banned_at", "BANNED AT" },
	{ "until", "UNTIL" },
};

/* The API answers every ban in one piece (no pages), so no list options. */
static int ban_list(struct ctl *c, struct ctl_args *a)
{
	json_t *resp = NULL;
	int err;

	if ((err = ctl_res_npos(a, 1, "ban list")) || (err = ctl_args_check_used(a, "ban list"))
	    || (err = ctl_api(c, "GET", "/api/security/bans", NULL, &resp, NULL)))
		return err;
	ctl_res_print_list(c, resp, ban_cols, sizeof(ban_cols) / sizeof(ban_cols[0]));
	json_decref(resp);
	return 0;
}

static int ban_lift(struct ctl *c, struct ctl_args *a)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char path[512], msg[128];
	json_t *resp = NULL;
	int err;

	if ((err = ctl_res_npos(a, 2, "ban lift ADDRESS")) || (err = ctl_args_check_used(a, "ban lift")))
		return err;
	/* The API would answer 404 for a typo; saying so here costs nothing and sends
	 * nothing. An IPv6 ban covers a /64: any address in it lifts it. */
	const char *addr = a->pos[1];
	if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1) {
		ctl_usage_error("ban lift: '%s' is not an IPv4 or IPv6 address", addr);
		return EINVAL;
	}
	if ((err = ctl_path(c, path, sizeof(path), "/api/security/bans/%s/destroy", addr))
	    || (err = ctl_api(c, "POST", path, NULL, &resp, NULL)))
		return err;
	snprintf(msg, sizeof(msg), "ban of %s lifted", addr);
	ctl_out_result(c, resp, msg);
	json_decref(resp);
	return 0;
}

int ctl_cmd_ban(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	const char *verb;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	verb = a.npos ? a.pos[0] : "";
	if (strcmp(verb, "list") == 0) {
		err = ban_list(c, &a);
	} else if (strcmp(verb, "lift") == 0) {
		err = ban_lift(c, &a);
	} else {
		ctl_usage_error("ban: expected list or lift");
		err = EINVAL;
	}
	ctl_args_free(&a);
	return err;
}
