/* Unit tests of the event feeds (src/pbx/feed.c) the API's WebSocket streams
 * read: a feed gets its tenant's call events in order, as copies, and nothing
 * else; its eventfd wakes the reader; a reader that lets `max` events pile up is
 * marked overrun and gets no more (the signalling thread never waits); a feed
 * read and closed on another thread while events are emitted; a device that
 * registers or goes reaches its tenant's feeds as extension_registered /
 * extension_unregistered with the device and the reason. CDR-24. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/mem.h"
#include "pbx/events.h"
#include "pbx/feed.h"
#include "pbx/pbx.h"

static void emit(struct pbx_events *ev, enum pbx_event_kind kind, uint64_t tenant, const char *json)
{
	struct pbx_event e = { .kind = kind, .tenant_id = tenant, .json = json };
	pbx_events_emit(ev, &e);
}

static void test_order_and_tenants(void **state)
{
	struct pbx_events *ev;
	struct feeds *r;
	struct pbx_feed *a, *b;
	assert_int_equal(pbx_events_alloc(&ev), 0);
	assert_int_equal(feeds_alloc(&r, ev), 0);
	assert_int_equal(feeds_open(r, 1, 10, &a), 0);
	assert_int_equal(feeds_open(r, 2, 10, &b), 0);
	assert_int_equal(feeds_open(r, 0, 10, &b), EINVAL);
	char json[32];
	snprintf(json, sizeof(json), "{\"n\":1}");
	emit(ev, PBX_EV_CALL_START, 1, json);
	json[5] = '2'; /* the feed has its own copy */
	emit(ev, PBX_EV_CALL_CDR, 1, json);
	emit(ev, PBX_EV_CALL_CDR, 2, "{\"t\":2}");
	emit(ev, PBX_EV_REGISTERED, 1, NULL);
	emit(ev, PBX_EV_CALL_ANSWERED, 2, "{\"a\":2}");
	uint64_t v = 0;
	assert_int_equal(read(pbx_feed_fd(a), &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 2);
	bool over;
	char *s = pbx_feed_next(a, &over);
	assert_string_equal(s, "{\"n\":1}");
	free(s);
	s = pbx_feed_next(a, &over);
	assert_string_equal(s, "{\"n\":2}");
	free(s);
	assert_null(pbx_feed_next(a, &over));
	assert_false(over);
	s = pbx_feed_next(b, &over);
	assert_string_equal(s, "{\"t\":2}");
	free(s);
	s = pbx_feed_next(b, &over); /* answers reach the streams too (not webhooks) */
	assert_string_equal(s, "{\"a\":2}");
	free(s);
	pbx_feed_close(a);
	emit(ev, PBX_EV_CALL_CDR, 1, "{}"); /* no feed of tenant 1 now */
	pbx_feed_close(b);
	feeds_free(r);
	mem_deref(ev);
}

static void test_registrations(void **state)
{
	struct pbx_events *ev;
	struct feeds *r;
	struct pbx_feed *a, *b;
	assert_int_equal(pbx_events_alloc(&ev), 0);
	assert_int_equal(feeds_alloc(&r, ev), 0);
	struct loc_binding bd = { .id = 42, .tenant_id = 1, .user_id = 9, .user_agent = "Yealink \"T46\"" };
	bd.peer.tp = SIP_TP_TCP;
	sa_set(&bd.peer.addr, "192.0.2.7", 5062);
	/* nobody reading: nothing made, nothing kept */
	struct pbx_event e = { .kind = PBX_EV_REGISTERED, .tenant_id = 1, .user_id = 9, .extension = "101", .binding = &bd };
	pbx_events_emit(ev, &e);
	assert_int_equal(feeds_open(r, 1, 10, &a), 0);
	assert_int_equal(feeds_open(r, 2, 10, &b), 0);
	pbx_events_emit(ev, &e);
	e.kind = PBX_EV_UNREGISTERED;
	e.reason = LOC_EXPIRED;
	pbx_events_emit(ev, &e);
	bool over;
	char *s = pbx_feed_next(a, &over);
	assert_non_null(s);
	assert_non_null(strstr(s, "\"event_type\":\"extension_registered\""));
	assert_non_null(strstr(s, "\"extension\":\"101\""));
	assert_non_null(strstr(s, "\"user_id\":\"9\""));
	assert_non_null(strstr(s, "\"id\":\"42\""));
	assert_non_null(strstr(s, "\"address\":\"192.0.2.7:5062\""));
	assert_non_null(strstr(s, "\"transport\":\"TCP\""));
	assert_non_null(strstr(s, "Yealink \\\"T46\\\"")); /* escaped as JSON */
	assert_null(strstr(s, "reason"));
	free(s);
	s = pbx_feed_next(a, &over);
	assert_non_null(s);
	assert_non_null(strstr(s, "\"event_type\":\"extension_unregistered\""));
	assert_non_null(strstr(s, "\"reason\":\"expired\""));
	free(s);
	assert_null(pbx_feed_next(a, &over));
	assert_null(pbx_feed_next(b, &over)); /* another tenant's feed hears nothing */
	pbx_feed_close(a);
	pbx_feed_close(b);
	feeds_free(r);
	mem_deref(ev);
}

static void test_overrun(void **state)
{
	struct pbx_events *ev;
	struct feeds *r;
	struct pbx_feed *f;
	assert_int_equal(pbx_events_alloc(&ev), 0);
	assert_int_equal(feeds_alloc(&r, ev), 0);
	assert_int_equal(feeds_open(r, 7, 2, &f), 0);
	for (int i = 0; i < 5; i++)
		emit(ev, PBX_EV_CALL_CDR, 7, "{\"x\":1}");
	bool over;
	char *s;
	int n = 0;
	while ((s = pbx_feed_next(f, &over))) {
		free(s);
		n++;
	}
	assert_int_equal(n, 2);
	assert_true(over);
	emit(ev, PBX_EV_CALL_CDR, 7, "{}"); /* overrun: nothing more is queued */
	assert_null(pbx_feed_next(f, &over));
	/* left open at the registry's end: detached, then closed by its reader */
	emit(ev, PBX_EV_CALL_CDR, 7, "{}");
	feeds_free(r);
	pbx_feed_close(f);
	mem_deref(ev);
}

struct reader {
	struct pbx_feed *f;
	int got;
};

static void *read_all(void *arg)
{
	struct reader *rd = arg;
	bool over = false;
	while (rd->got < 1000 && !over) {
		char *s = pbx_feed_next(rd->f, &over);
		if (s) {
			rd->got++;
			free(s);
		} else {
			usleep(100);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct pbx_events *ev;
	struct feeds *r;
	struct reader rd = { 0 };
	assert_int_equal(pbx_events_alloc(&ev), 0);
	assert_int_equal(feeds_alloc(&r, ev), 0);
	assert_int_equal(feeds_open(r, 3, 2000, &rd.f), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, read_all, &rd), 0);
	for (int i = 0; i < 1000; i++)
		emit(ev, PBX_EV_CALL_START, 3, "{\"call\":true}");
	pthread_join(t, NULL);
	assert_int_equal(rd.got, 1000);
	pbx_feed_close(rd.f);
	feeds_free(r);
	mem_deref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_tenants),
		cmocka_unit_test(test_registrations),
		cmocka_unit_test(test_overrun),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
