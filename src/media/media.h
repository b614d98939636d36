/* The media engine's public face: RTP/RTCP port allocation, media endpoints, and
 * the media worker thread that relays between them.
 *
 * Threads: the signalling thread owns the port allocator (struct media_ports) and
 * decides what is connected to what; a media worker owns the sockets while a relay
 * runs and moves the packets. They talk only by mqueue messages (media_relay_*
 * below push them; answers come back on an mqueue the caller gives).
 *
 * Endpoints: whatever sends or receives a leg's media is a struct media_endpoint
 * with an ops table. A relay is two socket endpoints, each the other's peer: what
 * one receives it hands, in batches, to its peer's deliver op. A player, recorder,
 * mixer or SRTP/ICE endpoint is another ops table; the socket endpoint and the
 * relay do not change when one is added.
 *
 * Workers: --media-threads of them (MEDIA_WORKERS_MAX at most), each its own
 * thread and loop; the caller picks a worker per call and sends it every message
 * of that relay.
 *
 * WebRTC: a side may be a browser's (webrtc.c): ICE-lite answers its checks
 * (stun.c) and takes the address it nominates as the only one media goes to
 * and comes from, DTLS-SRTP (RFC 5763/5764) over rtcp-mux keys pbxd's own SRTP
 * (srtp.c, on OpenSSL), and
 * the side's media is decrypted and encrypted between the socket and the other
 * side, which sees plain RTP. */
#ifndef MEDIA_MEDIA_H
#define MEDIA_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/conf.h"
#include "core/mqueue.h"
#include "core/sa.h"

extern const struct conf_opt media_opts[];
extern const size_t media_opts_count;

/* --- ports (signalling thread) ------------------------------------------------ */

/* An RTP socket on an even port and its RTCP socket on the next (odd) port,
 * bound together on the same address. */
struct media_sockpair {
	int rtp, rtcp; /* non-blocking UDP sockets; -1 when not held */
	uint16_t port; /* the RTP port; RTCP is port + 1 */
};

struct media_ports;

/* "MIN-MAX" (both 1..65535, MIN <= MAX) as in --rtp-ports; 0 or EINVAL. */
int media_ports_parse_range(const char *s, uint16_t *min, uint16_t *max);
/* Ports MIN..MAX (MIN rounded up to even; a pair needs both its ports in range)
 * on addr (numeric; NULL or "" means all IPv4 addresses). At most
 * fdlimit_share(FDLIMIT_MEDIA, ...) / 2 pairs are held at once. Not reference
 * counted: free with media_ports_free() once every pair is back. */
int media_ports_alloc(struct media_ports **pp, const char *addr, uint16_t min, uint16_t max);
void media_ports_free(struct media_ports *p);
/* Binds the next free pair after the last one given (next-fit, wrapping around);
 * a port another process holds is skipped. EADDRINUSE when no pair of the range
 * can be bound, EMFILE at the descriptor cap, or the errno of socket(). */
int media_ports_get(struct media_ports *p, struct media_sockpair *sp);
/* Closes whichever of the pair's sockets are open (they become -1). */
void media_sockpair_close(struct media_sockpair *sp);
/* Closes both sockets and makes the port free again; sp is reset to -1s. */
void media_ports_put(struct media_ports *p, struct media_sockpair *sp);
unsigned media_ports_in_use(const struct media_ports *p);
/* Descriptors the media workers hold besides the pairs (uring.c's second,
 * connected socket on a latched RTP port) count against the same budget:
 * taken only while an eighth of it stays free for new pairs; false when not.
 * Any thread. */
bool media_ports_extra_take(void);
void media_ports_extra_give(void);

/* --- endpoints (media worker thread) ------------------------------------------ */

enum media_comp { MEDIA_RTP = 0, MEDIA_RTCP = 1, MEDIA_COMP_COUNT };

/* One received packet. buf belongs to the worker's batch and is valid only during
 * the deliver call: an endpoint that keeps packets (a jitter buffer, a recorder)
 * copies them. */
struct media_pkt {
	uint8_t *buf;
	size_t len;
	struct sa src;
};

struct media_endpoint;

struct media_endpoint_ops {
	const char *name;
	/* Takes n packets of component comp that the peer received, in order. */
	void (*deliver)(struct media_endpoint *ep, enum media_comp comp, struct media_pkt *pkts,
			unsigned n);
};

struct media_endpoint {
	const struct media_endpoint_ops *ops;
	struct media_endpoint *peer; /* where what this endpoint receives goes; NULL: dropped */
};

/* Counters of one side (socket endpoint) of a relay. */
struct media_stats {
	uint64_t rx_pkts, rx_bytes; /* received on this side's sockets, accepted */
	uint64_t tx_pkts, tx_bytes; /* sent out of this side's sockets */
	uint64_t rx_foreign;        /* from a source other than the latched one: dropped */
	uint64_t tx_dropped;        /* nowhere to send yet (no latch, no hint), or socket full */
	uint32_t relatches;         /* times the remote address moved after the first latch */
	/* WebRTC sides */
	uint32_t ice_checks;        /* valid connectivity checks answered */
	uint32_t ice_refused;       /* checks refused (wrong credentials, integrity) */
	bool dtls_up;               /* DTLS done, the fingerprint matched, SRTP keyed */
	uint64_t srtp_failed;       /* packets that did not authenticate or decrypt */
};

/* --- the media worker ---------------------------------------------------------- */

/* After this many packets in a row from one new source, a latched side follows it
 * (a phone whose NAT binding changed); fewer, from a spoofer, change nothing. */
enum { MEDIA_LATCH_SWITCH = 4 };

/* Message ids on the caller's reply mqueue; data is a struct media_relay_report,
 * which the receiver frees with mem_deref(). */
enum {
	MEDIA_MSG_STATS = 0x4d454400, /* answer to media_relay_stats() */
	MEDIA_MSG_DONE,               /* relay destroyed, or its creation failed (err set) */
	MEDIA_MSG_DTMF,               /* data: struct media_dtmf */
};

/* A DTMF event (RFC 4733) a side sent, once per event (its end); the packets
 * themselves are relayed as they came. Freed by the receiver with mem_deref(). */
struct media_dtmf {
	uint64_t id;
	int side;
	char digit;            /* 0-9 * # A-D, or '!' for flash (16), '?' other */
	uint32_t duration_ms;
};

struct media_relay_report {
	uint64_t id;
	int err; /* MEDIA_MSG_DONE: 0 after destroy, else why creation failed */
	/* MEDIA_MSG_DONE: the sockets, back to the caller for media_ports_put(). */
	struct media_sockpair side[2];
	struct media_stats stats[2];
};

/* Where to send before a side has latched: the address and ports its SDP gave.
 * A zero sa (len 0) means none: that side's packets are dropped until it sends. */
struct media_hint {
	struct sa rtp, rtcp; /* rtcp unset but rtp set: rtp's port + 1 */
	/* The side renegotiated from this address (its signalling source): a new
	 * media source at this IP takes the latch at its first packet instead of
	 * after MEDIA_LATCH_SWITCH, so a phone behind NAT that moves its media (a
	 * re-INVITE naming a private address we do not use) loses nothing. len 0:
	 * none. */
	struct sa move_from;
};

struct media_worker;

enum { MEDIA_WORKERS_MAX = 64 };

int media_worker_start(struct media_worker **wp);
/* As media_worker_start, choosing the packet I/O: io_uring when uring and the
 * kernel allows it (--media-io-uring), else epoll with recvmmsg/sendmmsg. */
int media_worker_start_io(struct media_worker **wp, bool uring);
/* Stops and joins the thread. Relays still running are destroyed and their
 * sockets closed (no MEDIA_MSG_DONE): destroy them first to get the ports back. */
void media_worker_stop(struct media_worker *w);

/* Any thread. Relays side[0] <-> side[1]; the worker owns the sockets until it
 * sends MEDIA_MSG_DONE for id (ids are the caller's, unique among live relays).
 * hints may be NULL. Returns 0 (the outcome of a failed creation comes as
 * MEDIA_MSG_DONE with err) or ENOMEM/ESHUTDOWN. */
int media_relay_create(struct media_worker *w, uint64_t id, const struct media_sockpair side[2],
		       const struct media_hint hints[2], struct mqueue *reply);

/* --- WebRTC sides --------------------------------------------------------------- */

/* pbxd's DTLS identity: an EC P-256 key and a self-signed certificate made at
 * start (RFC 8827 lets it be ephemeral), shared by every WebRTC side; its
 * fingerprint goes in SDP. Refcounted (mem_deref); any thread once made. */
struct media_dtls_cert;
int media_dtls_cert_new(struct media_dtls_cert **cp);
/* "sha-256 AB:CD:...", as a=fingerprint writes it. */
const char *media_dtls_cert_fingerprint(const struct media_dtls_cert *c);

/* For tests and benches that link libsrtp2 (the browser's side): its one-time
 * set-up, which is not idempotent, done once per process. pbxd itself does not
 * use libsrtp2 (a no-op there). 0 or EIO. */
int media_srtp_init(void);

/* pbxd's DTLS role on a side: the server waits for the browser's ClientHello
 * (SDP a=setup:passive), the client sends one (a=setup:active). */
enum media_dtls_role { MEDIA_DTLS_SERVER = 0, MEDIA_DTLS_CLIENT };

struct media_webrtc_params {
	char local_ufrag[32], local_pwd[64]; /* pbxd's ICE credentials of this side (its SDP) */
	char remote_ufrag[64];               /* the browser's a=ice-ufrag ("" accepts any) */
	char remote_fp[200];                 /* the browser's a=fingerprint: "sha-256 AB:CD:..." */
	enum media_dtls_role role;
};

/* As media_relay_create, where side i is a browser's when webrtc[i] is not NULL
 * (its hint is then not used: media goes only where ICE says). cert: pbxd's
 * DTLS identity (held by the relay). */
int media_relay_create_webrtc(struct media_worker *w, uint64_t id, const struct media_sockpair side[2],
			      const struct media_hint hints[2], const struct media_webrtc_params *webrtc[2],
			      struct media_dtls_cert *cert, struct mqueue *reply);
/* Any thread. Makes side of a running relay a browser's (its answer told
 * pbxd the browser's ICE and DTLS terms), or gives such a side the browser's
 * terms again; a side whose DTLS is up keeps what it has. 0, EINVAL, ENOMEM or
 * ESHUTDOWN. */
int media_relay_webrtc(struct media_worker *w, uint64_t id, int side, const struct media_webrtc_params *p,
		       struct media_dtls_cert *cert);
/* Any thread. Answered on the reply mqueue given at creation; an unknown id is
 * logged and ignored (there is no queue to answer on). ENOMEM/ESHUTDOWN. */
int media_relay_destroy(struct media_worker *w, uint64_t id);
/* Any thread. side (0 or 1) now sends where hint says until it latches again
 * (see media_sockep_hint: an empty hint changes nothing). A hint of the wrong
 * address family is ignored. 0, EINVAL, ENOMEM or ESHUTDOWN. */
int media_relay_hint(struct media_worker *w, uint64_t id, int side, const struct media_hint *hint);
/* Any thread. Watches side's RTP for telephone-events of payload type pt (-1:
 * stop) at clock Hz, and reports each as MEDIA_MSG_DTMF. 0, EINVAL, ENOMEM or
 * ESHUTDOWN. */
int media_relay_dtmf(struct media_worker *w, uint64_t id, int side, int pt, uint32_t clock);
int media_relay_stats(struct media_worker *w, uint64_t id);

/* --- codecs ------------------------------------------------------------------------- */

/* Audio codecs the media engine can decode and encode. Others are relayed
 * untouched between sides that agreed on them. */
enum media_codec { MEDIA_CODEC_NONE = 0, MEDIA_CODEC_PCMU, MEDIA_CODEC_PCMA, MEDIA_CODEC_OPUS };

/* What one side of a relay sends and takes: its audio codec and payload type,
 * and its telephone-event payload type (-1: none) and clock. */
struct media_codec_side {
	enum media_codec codec;
	int pt;
	int te_pt;
	uint32_t te_clock;
};

/* The codec an SDP rtpmap names ("PCMU"/8000, "opus"/48000...), or NONE. */
enum media_codec media_codec_of(const char *name, uint32_t clock);
/* Whether the engine turns a into b and back (G.711 <-> Opus). */
bool media_codec_transcodable(enum media_codec a, enum media_codec b);
/* Any thread. What each side of a relay sends: when their codecs differ (and
 * the pair is transcodable) the relay transcodes both ways, else (the same
 * codec, or NONE) it relays untouched as before. May be sent again after a
 * renegotiation. 0, EINVAL, ENOMEM or ESHUTDOWN. */
int media_relay_codecs(struct media_worker *w, uint64_t id, const struct media_codec_side side[2]);

#endif
