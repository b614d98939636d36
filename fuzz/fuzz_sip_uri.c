/* libFuzzer target for the URI and parameter-list parsers (src/sip/uri.c) and
 * the header-value decoders built on them (sip_addr_parse, sip_via_parse in
 * src/sip/hdr.c). The whole input is given to each; a URI that parses is printed
 * back with sip_uri_print() and must parse again to the same parts. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/msg.h"
#include "sip/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void require(bool ok)
{
	if (!ok)
		abort();
}

static void touch(const struct pl *pl)
{
	if (pl->p && pl->l)
		sink += (unsigned char)pl->p[0] + (unsigned char)pl->p[pl->l - 1] + pl->l;
}

static void params_walk(const struct pl *params)
{
	struct pl cur = *params, name, val;
	int err;
	while ((err = sip_param_next(&cur, &name, &val)) == 0) {
		touch(&name);
		touch(&val);
	}
	require(err == ENOENT || err == EBADMSG);
	if (sip_param_get(params, "transport", &val) == 0)
		touch(&val);
	sink += sip_param_exists(params, "lr");
}

static void uri_roundtrip(const struct sip_uri *uri)
{
	struct mbuf *mb = mbuf_alloc(256, 2 * 65536);
	require(mb != NULL);
	if (sip_uri_print(mb, uri) == 0) {
		struct sip_uri u2;
		struct pl p2 = pl_from((const char *)mb->buf, mb->end);
		if (sip_uri_parse(&u2, &p2) || u2.scheme_id != uri->scheme_id || u2.port != uri->port ||
		    u2.af != uri->af || !pl_eq(&u2.host, &uri->host) || !pl_eq(&u2.user, &uri->user) ||
		    !pl_eq(&u2.params, &uri->params))
			abort();
	}
	mem_deref(mb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl in = pl_from((const char *)data, size);

	struct sip_uri uri;
	if (sip_uri_parse(&uri, &in) == 0) {
		touch(&uri.host);
		touch(&uri.headers);
		params_walk(&uri.params);
		uri_roundtrip(&uri);
	}

	struct sip_addr addr;
	for (int star = 0; star < 2; star++) {
		if (sip_addr_parse(&addr, &in, star) == 0) {
			touch(&addr.dname);
			touch(&addr.tag);
			params_walk(&addr.params);
			if (!addr.star)
				params_walk(&addr.uri.params);
		}
	}

	struct sip_via via;
	if (sip_via_parse(&via, &in) == 0) {
		touch(&via.host);
		touch(&via.branch);
		touch(&via.received);
		params_walk(&via.params);
	}

	sink += (size_t)sip_params_check(&in);
	params_walk(&in);

	struct pl host;
	int af;
	uint16_t port;
	if (sip_hostport_parse(&in, &host, &af, &port) == 0)
		touch(&host);

	/* Unescaping into a buffer just large enough, and one too small. */
	char *out = malloc(size + 1);
	require(out != NULL);
	size_t n;
	if (sip_uri_unescape(&in, out, size, &n) == 0)
		require(n <= size);
	if (size && sip_uri_unescape(&in, out, size / 2, &n) == 0)
		require(n <= size / 2);
	free(out);
	return 0;
}
