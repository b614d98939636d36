/* The registrar (RFC 3261 §10): REGISTER for sip:EXT@TENANT-DOMAIN, authenticated
 * as that extension (authn.h), writes the location service (location.h). Several
 * devices per extension, each with its own expiry, up to a maximum (the least
 * recently refreshed is dropped); +sip.instance and reg-id identify a device
 * across changes of address (RFC 5626, RFC 5627); Path is kept (RFC 3327).
 *
 * Storms: authenticated REGISTERs are admitted at a configured rate; beyond it
 * pbxd answers 503 with a Retry-After spread over a window, so that phones that
 * all came back at once do not all come back again at once. */
#ifndef PBX_REGISTRAR_H
#define PBX_REGISTRAR_H

#include "core/conf.h"
#include "pbx/authn.h"
#include "pbx/directory.h"
#include "pbx/location.h"
#include "sip/stack.h"

extern const struct conf_opt registrar_opts[];
extern const size_t registrar_opts_count;

struct registrar;

/* Adds the REGISTER handler to the stack's chain. Free with mem_deref(). */
int registrar_alloc(struct registrar **rp, struct sip_stack *sip, const struct conf *conf, struct directory *dir,
		    struct location *loc, struct authn *authn);

#endif
