/* SIP URIs (RFC 3261 §19.1, RFC 5118 for IPv6) and the ;name=value parameter lists
 * that URIs and header fields share. Everything is a slice of the caller's text. */
#ifndef SIP_URI_H
#define SIP_URI_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mbuf.h"
#include "core/pl.h"

enum sip_scheme { SIP_SCHEME_OTHER = 0, SIP_SCHEME_SIP, SIP_SCHEME_SIPS, SIP_SCHEME_TEL };

struct sip_uri {
	enum sip_scheme scheme_id;
	struct pl scheme;
	struct pl user;     /* still %-escaped; empty when absent */
	struct pl password;
	struct pl host;     /* IPv6 without the brackets */
	int af;             /* AF_INET, AF_INET6, or 0 for a host name */
	uint16_t port;      /* 0 when absent */
	struct pl params;   /* ";a=b;c" including the first ';', or empty */
	struct pl headers;  /* after '?', or empty */
	struct pl opaque;   /* non-SIP schemes: everything after "scheme:" */
};

/* Parses a whole URI; returns 0 or EBADMSG. Only sip:, sips: are decomposed;
 * other schemes are checked for a valid scheme name and kept opaque. */
int sip_uri_parse(struct sip_uri *uri, const struct pl *pl);
/* Validates a host (name, IPv4 or [IPv6]); sets af. */
int sip_host_parse(const struct pl *host, struct pl *out, int *af);
/* host[:port] as in a Via sent-by or a URI; port 0 when absent. */
int sip_hostport_parse(const struct pl *hp, struct pl *host, int *af, uint16_t *port);
/* %XX-decodes into out (NULs kept: the length is what counts). */
int sip_uri_unescape(const struct pl *in, char *out, size_t size, size_t *len);
/* Prints uri in canonical order (no-op rewriting of what was parsed). */
int sip_uri_print(struct mbuf *mb, const struct sip_uri *uri);

/* RFC 3261 §25.1 token characters, and a non-empty run of them. */
bool sip_token_char(char c);
bool sip_token_ok(const struct pl *t);

/* Parameter lists ";name[=value]" with LWS allowed around ';' and '='. */
/* Steps through params: returns 0 with name/val (val empty when no '='), ENOENT at
 * the end, EBADMSG when malformed (empty parameter, bad token, open quote). */
int sip_param_next(struct pl *cursor, struct pl *name, struct pl *val);
/* Checks a whole list; returns 0 or EBADMSG. */
int sip_params_check(const struct pl *params);
/* Finds name (case-insensitive); returns 0 (val may be empty) or ENOENT. */
int sip_param_get(const struct pl *params, const char *name, struct pl *val);
bool sip_param_exists(const struct pl *params, const char *name);

#endif
