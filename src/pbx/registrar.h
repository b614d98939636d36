/* The registrar (RFC 3261 §10): REGISTER for sip:EXT@TENANT-DOMAIN, guarded by
 * digest authentication. */
#ifndef PBX_REGISTRAR_H
#define PBX_REGISTRAR_H

#include "sip/auth.h"
#include "sip/stack.h"

struct registrar;

int registrar_alloc(struct registrar **rp, struct sip_stack *sip, struct sip_auth *auth);
void registrar_free(struct registrar *r);

#endif
