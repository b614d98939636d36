/* The PBX layer: what pbxd does with the requests the SIP stack hands it. Each
 * capability is its own module (registrar, calls, and later the applications);
 * this header starts and stops them together. */
#ifndef PBX_PBX_H
#define PBX_PBX_H

#include "core/conf.h"
#include "sip/stack.h"

struct pbx;

extern const struct conf_opt pbx_opts[];
extern const size_t pbx_opts_count;

int pbx_alloc(struct pbx **pp, struct sip_stack *sip, const struct conf *conf);
void pbx_free(struct pbx *p);

#endif
