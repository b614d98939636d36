/* WebSocket (RFC 6455) as pbxd speaks it, at /api/events (api/events.c) and for
 * SIP over WebSocket (RFC 7118, sip/tp_ws.c): the handshake's accept key, the
 * parser of the frames a client sends, and the header of the frames pbxd sends.
 * No I/O here, so the parser is fuzzed alone (fuzz/fuzz_ws_frame.c). */
#ifndef CORE_WS_H
#define CORE_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode { WS_CONT = 0, WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

/* Close codes (RFC 6455 §7.4.1) pbxd sends. */
enum {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_POLICY = 1008,   /* the session ended */
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_OVERLOAD = 1013, /* "try again later": a client too slow for its events */
};

#define WS_ACCEPT_SZ 29 /* base64 of a SHA-1, and a NUL */

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (§4.2.2): base64(SHA-1(key +
 * the GUID)). 0, or EINVAL when key is not the base64 of 16 bytes (§4.1). */
int ws_accept_key(const char *key, char out[WS_ACCEPT_SZ]);

struct ws_frame {
	bool fin;
	enum ws_opcode op;
	uint8_t *payload; /* inside the buffer parsed, unmasked in place */
	size_t len;       /* payload bytes */
	size_t size;      /* bytes the frame took in the buffer: header and payload */
};

/* Parses the client frame at the start of buf (n bytes), §5.2: 0 with *f, its
 * payload unmasked in place; EAGAIN when the frame is not all there yet;
 * EPROTO when it is not a valid client frame (not masked, reserved bits set,
 * an unknown opcode, a control frame fragmented or over 125 bytes, a length
 * not in its shortest form); EMSGSIZE when its payload is over max bytes. A
 * length is checked before any of the payload is needed. */
int ws_frame_parse(uint8_t *buf, size_t n, size_t max, struct ws_frame *f);

/* The header of a server frame (FIN set, not masked) with len bytes of payload
 * into out; returns its size: 2, 4 or 10. */
size_t ws_frame_header(uint8_t out[10], enum ws_opcode op, size_t len);

/* The head of an upgrade request a server reads (§4.2.1), limited to 8 KiB. */
#define WS_HEAD_MAX 8192

struct ws_upgrade {
	size_t head_len;            /* the request's bytes up to its empty line */
	char accept[WS_ACCEPT_SZ];  /* Sec-WebSocket-Accept, when 101 */
	const char *reason;         /* the HTTP reason phrase of a refusal */
	const char *extra;          /* header lines a refusal carries (CRLF-ended), or NULL */
	const char *why;            /* what was wrong, for the refusal's body and the log */
};

/* Checks the upgrade request at the start of head (n bytes): GET ... HTTP/1.1,
 * Upgrade: websocket, Connection: Upgrade, version 13, a valid key and, when
 * protocol is not NULL, that sub-protocol offered. Returns 101 with u->accept
 * and u->head_len; 0 while the head is incomplete; else the status to refuse
 * with (400, 426, 431), u saying why. */
int ws_upgrade_check(const char *head, size_t n, const char *protocol, struct ws_upgrade *u);

#endif
