/* libFuzzer target for the WebSocket frame parser of /api/events
 * (ws_frame_parse in src/core/ws.c): the input is a stream of client frames,
 * parsed one after another as the event hub does (with its 4096-byte payload
 * limit), each frame's size checked against what was given; then the first 24
 * bytes as a Sec-WebSocket-Key (ws_accept_key), and the whole input as the head
 * of an upgrade request (ws_upgrade_check, as SIP over WebSocket reads it). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	size_t at = 0;
	for (;;) {
		struct ws_frame f;
		int e = ws_frame_parse(buf + at, size - at, 4096, &f);
		if (e) {
			if (e != EAGAIN && e != EPROTO && e != EMSGSIZE)
				abort();
			break;
		}
		if (f.size < 6 || f.size > size - at || f.len > 4096 || f.payload != buf + at + f.size - f.len)
			abort();
		for (size_t i = 0; i < f.len; i++)
			sink += f.payload[i];
		uint8_t hdr[10];
		if (ws_frame_header(hdr, f.op, f.len) > 10)
			abort();
		at += f.size;
	}
	char key[25], out[WS_ACCEPT_SZ];
	size_t kl = size < 24 ? size : 24;
	memcpy(key, data, kl);
	key[kl] = '\0';
	if (ws_accept_key(key, out) == 0 && strlen(out) != WS_ACCEPT_SZ - 1)
		abort();
	struct ws_upgrade u;
	int st = ws_upgrade_check((const char *)data, size, "sip", &u);
	if (st != 0 && st != 101 && st != 400 && st != 426 && st != 431)
		abort();
	if (st == 101 && (u.head_len > size || strlen(u.accept) != WS_ACCEPT_SZ - 1))
		abort();
	if (st > 101 && (!u.reason || !u.why))
		abort();
	free(buf);
	return 0;
}
