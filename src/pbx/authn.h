/* Authenticating a SIP request as an extension of a tenant: the one step that
 * guards REGISTER, and will guard INVITE, MESSAGE, SUBSCRIBE and REFER.
 *
 * An unknown extension, a disabled one (or one of a disabled tenant) and a wrong
 * password get the same answer after the same work (a digest is computed against
 * a dummy password), so nothing tells which extensions exist. Every such failure
 * counts toward a ban of the source (security.h); the first request without
 * credentials, a stale nonce and a nonce from before a restart are challenged and
 * count for nothing. */
#ifndef PBX_AUTHN_H
#define PBX_AUTHN_H

#include <stdbool.h>

#include "pbx/directory.h"
#include "pbx/security.h"
#include "sip/auth.h"
#include "sip/stack.h"

struct authn {
	struct sip_auth *auth;
	struct security *sec;
};

/* Authenticates req in tenant t (NULL when the domain is nobody's: the request is
 * then challenged and refused like any other) for realm, as the extension named
 * `user` (the address-of-record's user part: a REGISTER's To, a request's From).
 * proxy: Proxy-Authorization and 407 (requests other than REGISTER). Returns the
 * extension when the request proved it; otherwise NULL, and req has been answered
 * (401/407 challenge, 403, or 400 for a malformed header). */
struct dir_ext *authn_request(struct authn *a, struct sip_stack *s, struct sip_msg *req, struct dir_tenant *t,
			      const struct pl *realm, const struct pl *user, bool proxy);

#endif
