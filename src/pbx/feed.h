/* Event feeds: the call events of a tenant, and its devices registering and
 * going (extension_registered / extension_unregistered), handed to other threads (the API's
 * WebSocket subscribers, through pbx_feed_open() in pbx.h). The registry
 * subscribes to the event bus once; each open feed is a bounded queue of event
 * JSON texts with an eventfd that its reader's loop watches.
 *
 * Threads: the registry is allocated and freed on the signalling thread, which
 * fills the feeds; feeds are opened, read and closed from any thread. */
#ifndef PBX_FEED_H
#define PBX_FEED_H

#include "pbx/events.h"

struct feeds;
struct pbx_feed;

/* Not reference counted: free with feeds_free(), after every feed is closed
 * (a feed still open then is detached: its reader sees no more events). */
int feeds_alloc(struct feeds **fp, struct pbx_events *ev);
void feeds_free(struct feeds *f);
/* See pbx_feed_open() (pbx.h). */
int feeds_open(struct feeds *f, uint64_t tenant_id, size_t max, struct pbx_feed **out);

#endif
