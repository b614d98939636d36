/* What keeps scanners and password guessers out of the PBX: failed digest
 * authentications counted per source and answered by a ban, a list of blocked
 * User-Agents (the scanners that name themselves), a per-source request rate, and
 * trusted addresses that none of this touches. A source is an IPv4 address or an
 * IPv6 /64 (sa_source_key).
 *
 * Owned by the signalling thread; the API reads and lifts bans through pbx.h.
 * Free with mem_deref(). */
#ifndef PBX_SECURITY_H
#define PBX_SECURITY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conf.h"
#include "core/sa.h"
#include "sip/msg.h"

extern const struct conf_opt security_opts[];
extern const size_t security_opts_count;

struct security;

/* now_ms: the monotonic clock the counts and bans run on (the loop's). */
typedef uint64_t (security_clock_h)(void *arg);
int security_alloc(struct security **sp, const struct conf *conf, security_clock_h *now, void *now_arg);

bool security_trusted(const struct security *s, const struct sa *addr);
/* A failed authentication (a wrong password, an unknown or disabled extension:
 * never the first unauthenticated request). Bans the source once it has failed
 * auth-max-failures times within auth-window. who names the account tried, for
 * the log. Returns true when this failure banned it. */
bool security_auth_failed(struct security *s, const struct sa *addr, const char *who);
/* A success forgets nothing: a guesser that also knows one account must not
 * launder its failures with it. */
bool security_banned(struct security *s, const struct sa *addr);
/* The SIP stack's filter (sip_filter_h): drops requests from banned sources,
 * from blocked User-Agents and beyond the per-source rate. */
bool security_filter(const struct sip_msg *req, void *arg);

/* A ban as the API shows it. */
struct security_ban {
	char address[64]; /* the IPv4 address, or the /64's first address */
	int prefix;       /* 32 or 64 */
	int failures;
	int64_t banned_at, until; /* ms since the epoch */
};
/* Copies up to max current bans into out; returns how many there are. */
size_t security_bans(struct security *s, struct security_ban *out, size_t max);
/* Lifts the ban (and forgets the failures) of the source address belongs to:
 * 0, ENOENT (not banned) or EINVAL (not an address). */
int security_unban(struct security *s, const char *address);
/* Bans the source at once (tests, and an admin's ban later): 0 or EINVAL. */
int security_ban(struct security *s, const char *address);

#endif
