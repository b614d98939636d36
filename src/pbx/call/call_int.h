/* Inside the call engine: calls, legs, and what the files of src/pbx/call/ share.
 * engine.c routes requests and owns the calls; leg.c speaks SIP for one leg;
 * negotiate.c maps one leg's SDP onto the other's; cdr.c writes the record. */
#ifndef PBX_CALL_CALL_INT_H
#define PBX_CALL_CALL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/hash.h"
#include "core/list.h"
#include "core/mqueue.h"
#include "core/timer.h"
#include "media/media.h"
#include "pbx/call/call.h"
#include "pbx/pbx.h"
#include "sdp/sdp.h"
#include "sip/dialog.h"
#include "sip/tsx.h"

enum {
	CALL_MAX_TARGETS = 16, /* CDR targets kept per call (devices rung, later forwards) */
	CALL_DEST_SZ = 96,
	CALL_MAX_HOPS = 5,     /* extensions one call may be forwarded through */
};

enum leg_state {
	LEG_CALLING,  /* INVITE sent (B) or received (A), no answer yet */
	LEG_EARLY,    /* a provisional with a tag came (B) or went (A) */
	LEG_ANSWERED, /* 2xx */
	LEG_ENDED,
};

struct call;

/* One dialog of a call, with its own SDP view. */
struct leg {
	struct call *call;
	bool uas;                /* the caller's leg (A); else a device of the callee */
	enum leg_state state;
	struct sip_dialog *dlg;
	struct sip_peer peer;    /* where its requests go: the flow it came over (conn referenced) */
	char sentby[80];         /* our address for Via and Contact */
	/* A: the INVITE's server transaction, until its final answer. */
	struct sip_stsx *st;
	/* B: the INVITE's client transaction, until its final answer. */
	struct sip_ctsx *ct;
	uint32_t inv_cseq;
	int target;              /* index in the call's targets, -1 none (A) */
	/* SDP: what this leg agreed (or is agreeing) with pbxd, and pbxd's o= line. */
	struct sdp_neg neg;
	struct sdp_origin orig;
	bool has_offer;          /* neg holds this leg's offer or ours to it */
	bool negotiated;         /* the answer is known (ours to send, or theirs) */
	uint64_t sdp_hash;       /* content of the last SDP we sent (0: none), for its version */
	bool awaiting_answer;    /* A: our offer went in the 2xx (the caller's INVITE had
				  * none); the answer comes in the ACK */
	/* A browser (WebRTC): its SDP is DTLS-SRTP with ICE, pbxd's DTLS role on
	 * it is known once one side's SDP said (an offer's setup, or the answer's). */
	bool webrtc;
	bool dtls_role_set;
	enum media_dtls_role dtls_role;
	/* A re-INVITE or UPDATE received on this leg (upd_st), passed on to the
	 * other leg (whose upd_ct and upd_cseq it is) until its answer. */
	struct sip_stsx *upd_st;
	struct sip_ctsx *upd_ct;
	uint32_t upd_cseq;
	bool upd_invite;
	struct upd_undo *upd_undo; /* upd_st's: what its offer changed, put back if refused */
	/* Session timer (RFC 4028): the interval, who refreshes, our refresh. */
	uint32_t se_ms;          /* 0: none */
	bool se_we_refresh, se_peer_knows;
	struct tmr t_se;
	struct sip_ctsx *ref_ct;
	uint32_t ref_cseq;
	/* B to a provider (trunk.c): whose credentials answer its challenges, and
	 * the INVITE's header lines kept for the INVITE sent again with them. */
	uint64_t provider_id;
	unsigned auth_tries;
	char *inv_extra;
	struct le le;            /* call's B legs */
	struct le le_dlg;        /* engine's dialogs by Call-ID */
};

enum call_state { CALL_RINGING, CALL_TALKING };
/* Between extensions; from a provider; to a provider (the CDR's direction). */
enum call_dir { CALL_DIR_EXT, CALL_DIR_IN, CALL_DIR_OUT, CALL_DIR_IN2OUT };

struct call_target {
	uint64_t id;
	char callee[PBX_NUMBER_SZ];
	char destination[CALL_DEST_SZ]; /* sip:EXT@IP:PORT of the device */
	int64_t start_ms, ring_ms, answer_ms, end_ms;
	uint16_t status;
	const char *end_reason;
};

struct call {
	struct call_engine *e;
	uint64_t session_id, cdr_id;
	enum call_state state;
	uint64_t tenant_id;
	char tenant_name[STORE_NAME_SZ];
	char domain[STORE_DOMAIN_SZ];
	uint64_t caller_uid, callee_uid;
	char caller[PBX_NUMBER_SZ], callee[PBX_NUMBER_SZ];
	/* The caller's name as the callee sees it: the user's display name (USR-03),
	 * else what the phone wrote; and what the phone wrote, for the CDR (CDR-11). */
	char caller_name[STORE_NAME_SZ], callee_name[STORE_NAME_SZ];
	char caller_from_name[STORE_NAME_SZ];
	char caller_domain[STORE_DOMAIN_SZ];
	char call_id[STORE_CALLID_SZ];
	int64_t start_ms, ring_ms, answer_ms, end_ms;
	uint16_t status;          /* the failure sent to the caller, 0 */
	const char *fail_why;     /* its reason phrase when not the default (static) */
	char fail_hdrs[48];       /* header lines its answer needs (Min-SE) */
	const char *end_reason;
	struct leg *a, *b;        /* b: the answered device */
	struct list forks;        /* B legs still ringing */
	bool relay;               /* a relay runs under session_id, on worker mw */
	bool xcoding;             /* it transcodes between xcodecs */
	struct media_codec_side xcodecs[2];
	struct media_worker *mw;
	struct media_sockpair sp[2]; /* [0] faces the caller, [1] the callee */
	struct call_ice {            /* pbxd's ICE credentials of each side, for browsers */
		char ufrag[12], pwd[28];
	} ice[2];
	bool a_acked;
	int max_forwards;         /* what the devices' INVITEs carry: the caller's less one */
	bool counted;             /* in the per-user and per-tenant counts */
	struct tmr t_ring, t_ack;
	/* Grown as devices ring and forwards go (most calls have one or two):
	 * memory per call is what bench/calls weighs. */
	struct call_target *targets;
	unsigned ntargets, targets_cap;
	/* Forwarding: the extensions the call has been delivered to (the last is
	 * the one ringing, counted as busy with this call), for loops and hops. */
	uint64_t hops[CALL_MAX_HOPS];
	unsigned nhops;
	bool target_counted;
	bool stage_busy;          /* a device of the current extension said busy */
	char target[PBX_NUMBER_SZ]; /* the number ringing now */
	char target_status[24];     /* its user's effective status ("" available) */
	struct tmr t_noans;
	/* Trunks (trunk.c): the direction, the DID a provider's call named, the
	 * provider in use (counted against its max_calls), the caller ID sent out,
	 * and an outbound call's routes in the order tried. */
	enum call_dir dir;
	char did[PBX_NUMBER_SZ];
	char trunk_name[65];
	uint64_t trunk_pid;         /* 0: none counted */
	char out_cid[PBX_NUMBER_SZ];
	bool out_counted;           /* in the toll-fraud caps' counts (of out_uid) */
	uint64_t out_uid;           /* the extension whose caller ID and caps a call out uses */
	bool anonymous;
	/* A forward out (RFC 5806): why the extension diverted the call; the
	 * caller's own number is presented unless the extension always delivers
	 * its outbound caller ID (USR-19). */
	const char *div_reason;   /* NULL: not a forward */
	struct trunk_route *routes; /* TRUNK_ROUTE_MAX of them once the call goes out, else NULL */
	unsigned nroutes, route_i;
	struct le le, le_sid;
};

struct call_engine {
	struct call_deps d;
	struct media_worker *media[MEDIA_WORKERS_MAX];
	unsigned nmedia, next_media; /* calls go to the workers in turn */
	struct media_ports *ports;
	struct mqueue *mq;        /* media worker reports */
	char rtp_addr[48];        /* the address written in SDP; "" = the leg's signalling address */
	struct sdp_caps caps;
	struct media_dtls_cert *dtls; /* pbxd's DTLS identity for every browser leg */
	uint32_t ring_timeout_ms;
	uint32_t ack_wait_ms;     /* 64*T1 (--sip-t1): how long a 2xx waits for its ACK */
	uint32_t se_s, min_se_s;  /* session timer: our interval, the least we accept */
	struct list calls;        /* oldest first */
	struct hash by_sid;
	struct hash dialogs;      /* legs by Call-ID */
	struct hash busy;         /* struct call_count by user and tenant id */
	uint64_t rnd;
	struct tz_cache *tzc;     /* tenants' time zones, for the rules' schedules */
	bool closing;
};

/* forward.c: an extension's forwarding rules (its settings' "forwarding"). */
enum fwd_action { FWD_NONE, FWD_RING, FWD_HANGUP, FWD_VOICEMAIL, FWD_NUMBER };
enum fwd_cond { FWD_BUSY, FWD_NO_ANSWER, FWD_NOT_REACHABLE };
struct fwd_dest {
	enum fwd_action action;
	char number[33];
	char mailbox[17];
};
/* What the rules need to know of the call: the caller's number, and time windows
 * evaluated by whoever knows the tenant's clock and zone (NULL: no window is
 * open). */
struct fwd_ctx {
	const char *caller;
	bool (*in_window)(const struct json_t *rule, void *arg);     /* days/start/end of one rule */
	bool (*in_schedules)(const struct json_t *scheds, void *arg); /* any of an array of them */
	void *arg;
};
/* engine.c */
uint64_t call_rand(struct call_engine *e);
/* Active calls counted per user id and per tenant id. */
unsigned call_count_of(struct call_engine *e, uint64_t id);
void call_count_add(struct call_engine *e, uint64_t id, int delta);
/* A device leg's CDR target ends (reason and status kept if first). */
void call_target_end(struct call *c, struct leg *l, const char *reason, uint16_t status);
/* A new CDR target, zeroed but for its id and start: its index, or -1 when the
 * call has CALL_MAX_TARGETS already (or no memory). */
int call_target_new(struct call *c);
/* A ringing device leg is given up: CANCEL (with why_hdr, a Reason line, or
 * NULL), its target ended with reason, the leg freed. */
void call_fork_cancel(struct call *c, struct leg *l, const char *why_hdr, const char *reason);
/* The caller's CANCEL (the INVITE transaction's handler), the ring time-out. */
void call_caller_cancel(struct sip_stsx *t, void *arg);
void call_ring_timeout(void *arg);
/* Ends the call: answers or cancels what is pending, BYEs what is up (not the
 * leg `from`, which ended it), frees the media, hands the CDR over, frees it. */
void call_end(struct call *c, struct leg *from, const char *reason, uint16_t status);
/* The dialog table: a leg is found by the Call-ID and tags of a request. */
void call_dialog_add(struct call_engine *e, struct leg *l);
/* A device answered first (leg.c): the others are cancelled, the caller answered. */
void call_answered(struct call *c, struct leg *b);
/* A device refused, failed or timed out (leg.c): the leg is gone; when none is
 * left the caller gets the best failure. */
void call_fork_failed(struct call *c, struct leg *b, uint16_t status);
/* The media of side (0 caller, 1 callee) now goes where neg says. */
/* A side's media terms are known (its offer or answer): a plain side is hinted
 * where to send, a browser's side is made WebRTC with its ICE and DTLS terms. */
void call_media_hint(struct call *c, int side, const struct leg *l);
/* pbxd's DTLS role towards l from the setup its SDP wrote (RFC 4145 §4,
 * RFC 8842): passive makes pbxd the client, anything else the server. */
void call_dtls_role_from(struct leg *l, const char *their_setup);

/* route.c */
/* A new INVITE outside a dialog: the caller authenticated, the call made and
 * delivered to the extension it names (or, for a number that is none, out
 * over a provider; an INVITE from a provider is trunk.c's). */
void call_route(struct call_engine *e, struct sip_msg *req);
/* A call of tenant t for req, with its A leg answering req (100 Trying, the
 * dialog): NULL when none could be made (req answered). caller fills who calls. */
struct call *call_begin(struct call_engine *e, const struct dir_tenant *t, struct sip_msg *req);
/* The relay of a call's two sides, on a media worker. 0 or errno. */
int call_media_start(struct call *c);
/* New ICE credentials for pbxd's candidate of side (0 caller, 1 callee). 0 or errno. */
int call_ice_creds_new(struct call *c, int side);
/* A call about to ring: the tenant's call limit checked (503), the call
 * counted, its relay started (503 without ports), the caller's side hinted,
 * call_start told, the ring time-out armed. False when it ended the call. */
bool call_launch(struct call *c);
/* The call reaches extension x (its rules decide what rings). */
void call_deliver(struct call *c, const struct dir_ext *x);
/* Ends a call that failed before anything rang, with code and why (static). */
void call_fail(struct call *c, uint16_t code, const char *why);
/* Whether tenant t's office hours are open now (its week and holidays). */
bool call_tenant_open(struct call_engine *e, const struct dir_tenant *t);
/* Every device of the extension ringing now refused (cond busy or not
 * reachable; code the answer if nothing else applies). */
void call_stage_failed(struct call *c, enum fwd_cond cond, uint16_t code);
/* The extension ringing stops counting the call (at its end). */
void call_target_release(struct call *c);

/* leg.c */
struct leg *leg_alloc(struct call *c, bool uas);
void leg_free(struct leg *l);
/* The A leg's peer, sent-by and o= line, from the caller's INVITE. */
int leg_uas_setup(struct leg *a, const struct sip_msg *inv);
/* A B leg to a registered device: INVITE with our offer. 0 or errno. */
int leg_invite(struct leg *l, const struct loc_binding *b);
/* A B leg to a provider: INVITE for number (the Request-URI's user at its
 * host), from caller_id (display name, or anonymous with Privacy: id), with
 * P-Asserted-Identity, and more_hdrs (whole header lines, or NULL). 0 or errno. */
int leg_invite_trunk(struct leg *l, const struct trunk_provider *p, const char *number, const char *caller_id,
		     const char *display, bool anonymous, const char *more_hdrs);
/* The INVITE of l again, one CSeq on, with extra header lines (credentials). */
int leg_invite_again(struct leg *l, const char *auth);
/* Writes addr (--public-address) as our address on l: Via, Contact, SDP. */
void leg_public_address(struct leg *l, const char *addr);
/* Sends an in-dialog request on l (BYE, re-INVITE...), optionally with a body. */
int leg_request(struct leg *l, const char *method, const char *extra, const struct pl *sdp,
		sip_ctsx_resp_h *h, void *arg, struct sip_ctsx **tp);
/* The ACK of a 2xx to an INVITE of ours on l (RFC 3261 §13.2.2.4), with that
 * INVITE's CSeq; the transaction t repeats it for retransmitted 2xx and its
 * handler hears no more (call from the handler; t is the layer's after). */
void leg_ack_2xx(struct leg *l, struct sip_ctsx *t, uint32_t cseq);
/* Answers the A leg's INVITE (final or not). With sdp, our SDP for the leg. */
void leg_reply(struct leg *a, uint16_t scode, const char *reason, bool sdp);
/* Prints our SDP for l into a buffer (freed by the caller). */
struct mbuf *leg_sdp(struct leg *l);
/* The extra headers every INVITE and 2xx of ours carry. */
int leg_common_hdrs(const struct leg *l, char *buf, size_t size);

/* negotiate.c */
/* The caller's offer (or its absence): A's answer skeleton and the B offer. 0, or
 * a status to refuse with (488, 400) and *why. */
uint16_t negotiate_offer_a(struct call *c, const struct sip_msg *inv, const char **why);
/* The B offer for a new B leg, from A's negotiation. */
void negotiate_offer_b(struct call *c, struct leg *b);
/* A device's SDP answer (183 or 200): the B leg agrees, and A's answer follows
 * from it. 0, or EBADMSG with *why. */
int negotiate_answer_b(struct call *c, struct leg *b, const struct sip_msg *resp, const char **why);
/* The caller's answer in its ACK, to the offer pbxd put in the 2xx. */
int negotiate_ack_answer(struct call *c, const struct sip_msg *ack, const char **why);
/* A new offer from one leg in a call that is up (re-INVITE/UPDATE): `to` gets
 * the same streams, directions and codecs (as far as both sides allow). 0, or a
 * status and *why. */
uint16_t negotiate_reoffer(struct call *c, struct leg *from, struct leg *to, const struct sip_msg *req,
			   const char **why);
/* The answer to a reoffer, from `to`, turned into `from`'s answer. */
int negotiate_reanswer(struct call *c, struct leg *from, struct leg *to, const struct sip_msg *resp,
		       const char **why);
/* An SDP body of msg (application/sdp), parsed; NULL when none. EBADMSG with *why. */
int negotiate_parse(const struct sip_msg *msg, struct sdp_session **out, const char **why);

/* update.c: a re-INVITE or UPDATE on leg l of an answered call, passed on to
 * the other leg (hold, resume, a codec change, a session refresh). */
void call_reoffer(struct call *c, struct leg *l, struct sip_msg *req);
/* Answers what is pending on l (the call is ending). */
void call_reoffer_abort(struct leg *l);

/* session_timer.c */
/* 422 (with Min-SE in extra) for an INVITE asking too brief an interval, else 0. */
uint16_t session_timer_check(struct call_engine *e, const struct sip_msg *inv, char *extra, size_t size);
/* The caller's timer, from its INVITE. */
void session_timer_uas(struct leg *a, const struct sip_msg *inv);
/* The lines a 2xx of ours to an INVITE or UPDATE of l's phone carries: its
 * interval and who refreshes ("uac": the phone), when the phone knows timers. */
int session_timer_reply_hdrs(const struct leg *l, char *buf, size_t size);
/* The lines of our INVITE to a device; its timer from its 2xx. */
int session_timer_uac_hdrs(const struct call_engine *e, char *buf, size_t size);
void session_timer_uac(struct leg *b, const struct sip_msg *ok);
void session_timer_start(struct leg *l);
/* The phone refreshed (a re-INVITE or UPDATE came on l). */
void session_timer_refreshed(struct leg *l);
void session_timer_stop(struct leg *l);

/* A caller listed in exception_numbers: never forwarded. */
bool forward_exempt(const struct dir_ext *x, const char *caller);
/* Before ringing: an exception for this caller or the unconditional forward in
 * force; true with its destination (and *why, static) when the call goes there. */
bool forward_first(const struct dir_ext *x, const struct fwd_ctx *ctx, struct fwd_dest *d, const char **why);
/* The destination of a condition (FWD_NONE when unset), in the rule set of the
 * user's effective status (NULL or "available": the top-level rules). */
void forward_on(const struct dir_ext *x, const char *status, enum fwd_cond cond, struct fwd_dest *d);
/* Seconds to ring before the no-answer destination; 0: until the call's time-out. */
uint32_t forward_ring_time(const struct dir_ext *x, const char *status);

/* trunk.c: calls from and to providers */
/* Takes an INVITE that came from a provider's address (an inbound call to one
 * of its DIDs): true when it was the provider's (answered or routed). */
bool call_trunk_inbound(struct call_engine *e, struct sip_msg *req);
/* A number of no extension dialled by caller: out over a provider, when an
 * outbound rule matches and the caps allow (else the call ends refused). */
void call_trunk_outbound(struct call *c, const struct dir_ext *caller);
/* The rules of extension x forward the call to number, which is no
 * extension: out over a provider under x's caps (direction in2out for a call
 * that came from a provider), presenting the original caller with a Diversion
 * naming x for reason (RFC 5806: "user-busy", "no-answer"...), or x's own
 * caller ID when x always delivers it. Ends the call when it cannot go out. */
void call_trunk_forward(struct call *c, const struct dir_ext *x, const char *number, const char *reason);
/* A provider's leg failed with status: true when the next route was tried. */
bool call_trunk_failover(struct call *c, uint16_t status);
/* A provider's 401/407 to our INVITE on l: true when the INVITE went again
 * with the trunk's credentials. */
bool call_trunk_auth(struct leg *l, const struct sip_msg *resp);
/* The call's trunk counts released (at its end). */
void call_trunk_end(struct call *c);

/* fac.c: feature access codes dialled by a user for their own extension. */
bool fac_is_code(const struct pl *dialled);
/* Applies the code (through the settings hook); the final answer for the caller
 * and *why its reason phrase: 480 with what was done, 404 for an unknown code or
 * destination, 500 when the change could not be queued. */
uint16_t fac_apply(const struct call_engine *e, const struct dir_ext *x, const struct pl *dialled,
		   const char **why);

/* cdr.c */
struct store_cdr *cdr_build(const struct call *c);
/* The call_start event's JSON (mem string), or NULL. */
char *cdr_start_json(const struct call *c);
/* The call_answered event's JSON (mem string), or NULL: for live lists only
 * (the event stream), not a webhook event of the seeds. */
char *cdr_answered_json(const struct call *c);
/* Fills the API's view of an active call. */
void cdr_info(const struct call *c, struct pbx_call_info *out);

#endif
