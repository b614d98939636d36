/* A WebRTC side of a relay (internal to src/media; see media.h): ICE-lite,
 * DTLS-SRTP and rtcp-mux between a socket endpoint and the other side. */
#ifndef MEDIA_WEBRTC_H
#define MEDIA_WEBRTC_H

#include <stdbool.h>

#include "core/timer.h"
#include "media/media.h"
#include "media/sockep.h"

struct media_webrtc;

/* Wraps sock (whose received packets it takes: sock->ep.peer is set here) for a
 * browser described by p; what it decrypts goes to *far (set by the caller,
 * may change). Its `out` endpoint is where plain media for the browser is to
 * be delivered. th: the worker's timers (DTLS retransmission). */
int media_webrtc_alloc(struct media_webrtc **wp, const struct media_webrtc_params *p, struct media_dtls_cert *cert,
		       struct media_sockep *sock, struct tmr_heap *th);
void media_webrtc_free(struct media_webrtc *w);
/* The browser's terms again (a re-INVITE, or its answer after pbxd's offer).
 * Before DTLS: taken with the same local credentials, EALREADY with others
 * (the side must be made anew). Once DTLS started: new ICE credentials both
 * ways are an ICE restart, taken while the DTLS association and the pair in
 * use go on; another remote fingerprint is a new association: EALREADY. */
int media_webrtc_update(struct media_webrtc *w, const struct media_webrtc_params *p);
struct media_endpoint *media_webrtc_out(struct media_webrtc *w);
void media_webrtc_far_set(struct media_webrtc *w, struct media_endpoint *far);

#endif
