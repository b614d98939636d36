/* libFuzzer target for the time zone reader (src/core/tz.c). An input that
 * starts with "TZif" goes to tz_parse (the TZif file parser, with its footer's
 * POSIX TZ string); any other input, up to its first NUL, to tz_posix. A zone
 * that loads is then asked about instants spread over its whole range and
 * around each of its changes, and must answer in range and consistently:
 * every wall-clock field in range, the offset within RFC 8536's bounds, tz_utc
 * of a reading finding the instant among those showing it, tz_next moving
 * forward with no change of offset before it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
	if (!ok)
		abort();
}

static void check_at(const struct tz *tz, int64_t t)
{
	struct tz_tm l;
	tz_local(tz, t, &l);
	require(l.month >= 1 && l.month <= 12 && l.day >= 1 && l.day <= tz_mdays(l.year, l.month));
	require(l.hour >= 0 && l.hour < 24 && l.min >= 0 && l.min < 60 && l.sec >= 0 && l.sec < 60);
	require(l.wday >= 0 && l.wday < 7 && l.yday >= 0 && l.yday < 366);
	require(l.utcoff > -26 * 3600 && l.utcoff < 26 * 3600);
	require(memchr(l.abbr, 0, sizeof(l.abbr)) != NULL);
	if (t < TZ_TIME_MIN + 2 * 86400 || t > TZ_TIME_MAX - 2 * 86400)
		return;

	int64_t first, last;
	require(tz_utc(tz, &l, false, &first) == 0);
	require(tz_utc(tz, &l, true, &last) == 0);
	require(first <= t && t <= last);

	int64_t next;
	int err = tz_next(tz, t, &next);
	require(err == 0 || err == ENOENT);
	if (err == 0) {
		struct tz_tm before;
		require(next > t);
		tz_local(tz, next - 1, &before);
		require(before.utcoff == l.utcoff && before.is_dst == l.is_dst);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tz *tz = NULL;
	int err;
	if (size >= 4 && memcmp(data, "TZif", 4) == 0) {
		err = tz_parse(&tz, "fuzz", data, size);
	} else {
		char spec[256];
		size_t n = strnlen((const char *)data, size < sizeof(spec) - 1 ? size : sizeof(spec) - 1);
		memcpy(spec, data, n);
		spec[n] = 0;
		err = tz_posix(&tz, spec);
	}
	if (err) {
		require(tz == NULL && (err == EBADMSG || err == ENOTSUP || err == EFBIG));
		return 0;
	}

	/* Instants across the range, and around the first changes from 1900 on. */
	for (int64_t t = TZ_TIME_MIN; t < TZ_TIME_MAX - TZ_TIME_MAX / 16; t += TZ_TIME_MAX / 16)
		check_at(tz, t);
	check_at(tz, TZ_TIME_MAX);
	check_at(tz, INT64_MIN);
	int64_t t = -2208988800; /* 1900-01-01 */
	for (int i = 0; i < 64; i++) {
		int64_t next;
		if (tz_next(tz, t, &next) != 0)
			break;
		check_at(tz, next - 1);
		check_at(tz, next);
		t = next;
	}
	mem_deref(tz);
	return 0;
}
