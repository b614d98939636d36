/* Keep-alives toward registered devices: an OPTIONS to each device registered over
 * UDP every --register-keepalive seconds keeps the NAT binding in front of it open
 * (a stream's client keeps its own flow alive with CRLF pings, RFC 5626 §4.4.1,
 * which the transport answers). A device that answers none of several pings in a
 * row is unreachable: its registration ends rather than calls ringing into a void. */
#ifndef PBX_KEEPALIVE_H
#define PBX_KEEPALIVE_H

#include "core/conf.h"
#include "core/loop.h"
#include "pbx/location.h"
#include "sip/stack.h"

extern const struct conf_opt keepalive_opts[];
extern const size_t keepalive_opts_count;

struct keepalive;

/* Nothing runs when the option is 0 (the default). Free with mem_deref(). */
int keepalive_alloc(struct keepalive **kp, struct loop *loop, struct sip_stack *sip, struct location *loc,
		    const struct conf *conf);

#endif
