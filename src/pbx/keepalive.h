/* Keep-alives toward registered devices: an OPTIONS to each device every
 * --register-keepalive seconds keeps the NAT binding in front of it open. A
 * device registered over a stream is pinged over that same connection (its flow,
 * as requests to it will go); its client may also keep the flow alive itself
 * with CRLF pings (RFC 5626 §4.4.1), which the transport answers. A device that
 * answers none of several pings in a row, or whose connection is gone, is
 * unreachable: its registration ends rather than calls ringing into a void. */
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
