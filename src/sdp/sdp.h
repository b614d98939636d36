/* SDP (RFC 8866, formerly 4566): parser, printer and offer/answer (RFC 3264) for
 * one call leg. A parsed session owns one copy of the received text and every
 * field is a slice into that copy, as sip_msg does. The negotiated result
 * (struct sdp_neg) holds copies, so it outlives the SDP it came from: it is what
 * the call engine keeps per leg and hands to the media engine. */
#ifndef SDP_SDP_H
#define SDP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mbuf.h"
#include "core/pl.h"
#include "core/sa.h"

/* Limits on what is read from the network. */
enum {
	SDP_MAX_SIZE = 16384,
	SDP_MAX_MEDIA = 16,
	SDP_MAX_FMTS = 64,  /* formats on one m= line */
	SDP_MAX_ATTRS = 64, /* a= lines per section (session or media) */
	SDP_MAX_BW = 8,     /* b= lines per section */
	SDP_MAX_TIMES = 8,  /* t= lines */
	SDP_MAX_OTHER = 16, /* i= u= e= p= r= z= k= lines per section, kept verbatim */
};

/* Direction as a bit mask so that §6.1's answer is a bit swap and a hold a mask. */
enum sdp_dir {
	SDP_INACTIVE = 0,
	SDP_SENDONLY = 1,
	SDP_RECVONLY = 2,
	SDP_SENDRECV = 3,
};

struct sdp_attr {
	struct pl name;
	struct pl val; /* unset (p == NULL) for a flag such as a=sendrecv */
};

struct sdp_conn {
	struct pl addrtype; /* "IP4" or "IP6" */
	struct pl addr;     /* the address alone */
	struct pl suffix;   /* multicast "/ttl[/n]" as written, usually unset */
	int af;
	struct sa sa;       /* addr parsed, port 0; zeroed (af 0) when not numeric */
};

struct sdp_bw {
	struct pl type;
	uint32_t kbps;
};

struct sdp_line { /* a line kept as written: i= u= e= p= r= z= k= */
	char type;
	struct pl val;
};

struct sdp_fmt {
	struct pl id;       /* as written on the m= line */
	int pt;             /* 0..127 for RTP profiles, -1 otherwise */
	struct pl name;     /* from a=rtpmap, or the static table (RFC 3551) */
	uint32_t clock;
	uint8_t channels;   /* 1 when not given */
	struct pl fmtp;     /* a=fmtp parameters, unset when absent */
};

struct sdp_media {
	struct pl type;     /* "audio", "video", "application", ... */
	uint16_t port;
	uint16_t nports;    /* the "/count" of the m= line, 0 when absent */
	struct pl proto;    /* "RTP/AVP", "UDP/TLS/RTP/SAVPF", ... */
	struct sdp_fmt fmts[SDP_MAX_FMTS];
	unsigned nfmts;
	struct sdp_conn conn;
	bool has_conn;
	struct sdp_bw bw[SDP_MAX_BW];
	unsigned nbw;
	struct sdp_line other[SDP_MAX_OTHER];
	unsigned nother;
	/* Every a= line in order, the ones decoded below included: printing them
	 * back gives what was received, unknown attributes too. */
	struct sdp_attr attrs[SDP_MAX_ATTRS];
	unsigned nattrs;
	enum sdp_dir dir;   /* effective: this section's, else the session's, else sendrecv */
	uint32_t ptime, maxptime; /* 0 when absent */
	uint16_t rtcp_port;       /* a=rtcp, 0 when absent */
	struct sdp_conn rtcp_conn; /* a=rtcp's address when given */
	bool rtcp_mux;
	struct pl mid, setup, fingerprint, ice_ufrag, ice_pwd; /* unset when absent */
};

struct sdp_session {
	/* o= username sess-id sess-version nettype addrtype unicast-address */
	struct pl o_user, o_id, o_version;
	struct sdp_conn o_addr; /* af 0 when the address is a name */
	struct pl name;         /* s= */
	struct sdp_conn conn;
	bool has_conn;
	struct sdp_bw bw[SDP_MAX_BW];
	unsigned nbw;
	struct pl times[SDP_MAX_TIMES]; /* t= values */
	unsigned ntimes;
	struct sdp_line other[SDP_MAX_OTHER];
	unsigned nother;
	struct sdp_attr attrs[SDP_MAX_ATTRS];
	unsigned nattrs;
	enum sdp_dir dir;       /* session-level direction, sendrecv when absent */
	char *buf; /* the session's own copy of the text */
	size_t len;
	unsigned nmedia;
	/* Sized to the m= lines of the text (a media section is ~7 KB; a fixed 16
	 * would make every parse 115 KB). */
	struct sdp_media media[];
};

/* Parses data[0..len) into a new refcounted session (free with mem_deref).
 * Returns 0, or EBADMSG (EMSGSIZE past SDP_MAX_SIZE, ENOMEM) with *reason set to
 * a static phrase saying what was wrong, fit for a 488's reason. */
int sdp_parse(struct sdp_session **sessp, const char *data, size_t len, const char **reason);

/* Prints a parsed session back (LF line ends become CRLF; otherwise as parsed). */
int sdp_print(struct mbuf *mb, const struct sdp_session *sess);

/* The attribute's value by name in one section; NULL when absent. */
const struct sdp_attr *sdp_attr_find(const struct sdp_attr *attrs, unsigned n, const char *name);

const char *sdp_dir_name(enum sdp_dir dir);
/* The other side's view of a direction: sendonly <-> recvonly. */
enum sdp_dir sdp_dir_reverse(enum sdp_dir d);

/* ---- building SDP for a leg, and offer/answer (sdp_neg.c) ---- */

enum {
	SDP_NEG_MAX_CODECS = 8,
	SDP_NEG_MAX_STREAMS = 4, /* m= lines a leg negotiates (audio, video, two more) */
	SDP_NAME_SIZE = 32,
	SDP_FMTP_SIZE = 64,  /* ours, from the capabilities: a peer's stays in its parsed session */
};

/* A codec as one side writes it; also one entry of our capabilities. */
struct sdp_codec {
	uint8_t pt;         /* in capabilities: the PT we offer it with */
	char name[SDP_NAME_SIZE];
	uint32_t clock;
	uint8_t channels;   /* 0 or 1: mono */
	char fmtp[SDP_FMTP_SIZE];
};

/* What we accept, in our order of preference (used when we offer). A
 * "telephone-event" entry (RFC 4733) is negotiated apart from the codecs. */
struct sdp_caps {
	const struct sdp_codec *audio;
	unsigned naudio;
	const struct sdp_codec *video;
	unsigned nvideo;
	uint32_t ptime;     /* ours when the offer has none; 0: none written */
	bool rtcp_mux;      /* accept RFC 5761 rtcp-mux when offered; offer it */
	const char *const *protos; /* NULL-terminated; NULL means just "RTP/AVP" */
};

/* One m= line after negotiation: what the media engine needs. */
struct sdp_stream {
	char media[16];     /* "audio", "video", ... */
	char proto[24];
	char fmt0[16];      /* the first format of a rejected line, to print it back */
	bool rejected;      /* port 0: not used */
	uint16_t local_port; /* ours: the engine sets it before printing */
	/* Common codecs in the offerer's order; codecs[0] is the one to send. */
	struct sdp_codec codecs[SDP_NEG_MAX_CODECS];
	unsigned ncodecs;
	int te_pt;          /* telephone-event PT, -1 when not agreed */
	struct sdp_codec te;
	struct sa remote;   /* c= + m= port; the any address on a 0.0.0.0 hold */
	struct sa remote_rtcp; /* a=rtcp, else port + 1; equal to remote with rtcp-mux */
	bool rtcp_mux;
	enum sdp_dir dir;   /* ours, as written in our SDP (send bit: we send) */
	uint32_t ptime;     /* 0: not given */
	/* WebRTC (RFC 8829): the stream is DTLS-SRTP (UDP/TLS/RTP/SAVPF), and the
	 * peer's ICE and DTLS terms from its SDP (media level, else session level). */
	bool secure;
	char mid[32];
	char r_ufrag[64], r_pwd[128], r_fp[200], r_setup[12];
};

struct sdp_neg {
	struct sdp_stream streams[SDP_NEG_MAX_STREAMS];
	unsigned nstreams;
};

/* Our o= line: one per leg, its version raised whenever our SDP changes. */
struct sdp_origin {
	char user[SDP_NAME_SIZE];
	uint64_t id, version;
	char addr[48];      /* also the c= address of what we print */
	int af;
};

/* Returns 0 or EINVAL (addr not a numeric IPv4/IPv6 address). */
int sdp_origin_init(struct sdp_origin *o, const char *user, const char *addr, uint64_t id);
/* Raises the version (RFC 3264 §8: a changed SDP carries a higher one). */
void sdp_origin_bump(struct sdp_origin *o);

/* RFC 3264 §6: the answer to a remote offer. Fills neg with one stream per m=
 * line in order; a stream with nothing in common, an unknown media type or
 * proto, or offered with port 0 is rejected. `hold` is the most we allow
 * (SDP_SENDRECV normally, SDP_SENDONLY to hold, SDP_INACTIVE): the answer's
 * direction is the offer's reversed, masked by it. Returns 0, or EPROTO with
 * *reason when every stream is rejected or the offer has more than
 * SDP_NEG_MAX_STREAMS m= lines (the caller answers 488). */
int sdp_answer(struct sdp_neg *neg, const struct sdp_session *offer, const struct sdp_caps *caps,
	       enum sdp_dir hold, const char **reason);

/* Our offer: one audio stream (and a video one when `video` and caps have
 * video) with every codec of caps, direction `dir`. */
void sdp_offer(struct sdp_neg *neg, const struct sdp_caps *caps, bool video, enum sdp_dir dir);

/* RFC 3264 §7: the remote answer to the offer in neg. Narrows each stream to
 * the codecs the answer kept (formats we did not offer are ignored), fills the
 * remote addresses, and rejects streams the answer rejected. Returns 0, or
 * EBADMSG with *reason (m= lines not matching the offer, a stream with no
 * offered codec left, every stream rejected). */
int sdp_answer_process(struct sdp_neg *neg, const struct sdp_session *answer, const char **reason);

/* Prints our SDP for neg (offer or answer) with origin o. A stream that came
 * secure (a browser's) is written RTP/AVP: this prints a plain leg. */
int sdp_neg_print(struct mbuf *mb, const struct sdp_origin *o, const struct sdp_neg *neg);

/* pbxd's terms for a WebRTC leg: ICE-lite with one host candidate (the c=
 * address and the stream's port), rtcp-mux, DTLS-SRTP. */
struct sdp_webrtc {
	const char *ufrag, *pwd;
	const char *fingerprint; /* "sha-256 AB:..." */
	const char *setup;       /* actpass (offer), passive or active (answer) */
};
/* As sdp_neg_print, for a browser: UDP/TLS/RTP/SAVPF, the ICE and DTLS
 * attributes of w, a=mid on every stream (the offer's, else its index) and
 * a=group:BUNDLE of them. */
int sdp_neg_print_webrtc(struct mbuf *mb, const struct sdp_origin *o, const struct sdp_neg *neg,
			 const struct sdp_webrtc *w);

#endif
