/* The PBX event bus (see events.h): a fixed list of subscribers. */
#include "pbx/events.h"

#include <errno.h>

#include "core/mem.h"

#define MAX_SUBSCRIBERS 16

struct pbx_events {
	struct {
		pbx_event_h *h;
		void *arg;
	} sub[MAX_SUBSCRIBERS];
	size_t n;
};

int pbx_events_alloc(struct pbx_events **ep)
{
	*ep = mem_zalloc(sizeof(**ep), NULL);
	return *ep ? 0 : ENOMEM;
}

int pbx_events_subscribe(struct pbx_events *e, pbx_event_h *h, void *arg)
{
	if (e->n == MAX_SUBSCRIBERS)
		return ENOSPC;
	e->sub[e->n].h = h;
	e->sub[e->n].arg = arg;
	e->n++;
	return 0;
}

void pbx_events_emit(struct pbx_events *e, const struct pbx_event *ev)
{
	for (size_t i = 0; i < e->n; i++)
		e->sub[i].h(ev, e->sub[i].arg);
}

const char *pbx_event_name(enum pbx_event_kind kind)
{
	switch (kind) {
	case PBX_EV_REGISTERED:
		return "registered";
	case PBX_EV_UNREGISTERED:
		return "unregistered";
	case PBX_EV_CALL_START:
		return "call_start";
	case PBX_EV_CALL_CDR:
		return "call_cdr";
	case PBX_EV_CALL_ANSWERED:
		return "call_answered";
	}
	return "?";
}
