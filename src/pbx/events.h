/* PBX events: what happened that others may want to know (presence, webhooks,
 * the API's event stream, the portal's live lists). Subscribers are called on the
 * signalling thread, in the order they subscribed, while the event happens; they
 * copy what they keep. Free with mem_deref(). */
#ifndef PBX_EVENTS_H
#define PBX_EVENTS_H

#include <stdint.h>

#include "pbx/location.h"

enum pbx_event_kind {
	PBX_EV_REGISTERED,   /* a device registered (not a refresh) */
	PBX_EV_UNREGISTERED, /* a device's binding ended (reason says why) */
	PBX_EV_CALL_START,   /* a call is routed to a callee (json: the seeds' call_start) */
	PBX_EV_CALL_CDR,     /* a call ended (json: its call_cdr record) */
	PBX_EV_CALL_ANSWERED, /* a call was answered (json: call_answered; live lists only) */
};

struct pbx_event {
	enum pbx_event_kind kind;
	uint64_t tenant_id, user_id;
	const char *extension;           /* the extension's number */
	const struct loc_binding *binding;
	enum loc_reason reason;          /* PBX_EV_UNREGISTERED */
	const char *json;                /* PBX_EV_CALL_*: the event's JSON object */
};

typedef void (pbx_event_h)(const struct pbx_event *ev, void *arg);

struct pbx_events;

int pbx_events_alloc(struct pbx_events **ep);
/* 0, or ENOSPC past a fixed number of subscribers. */
int pbx_events_subscribe(struct pbx_events *e, pbx_event_h *h, void *arg);
void pbx_events_emit(struct pbx_events *e, const struct pbx_event *ev);
const char *pbx_event_name(enum pbx_event_kind kind);

#endif
