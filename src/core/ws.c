/* WebSocket framing (see ws.h). Every length read from the wire is checked
 * against what the buffer holds before it is used. */
#include "core/ws.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int ws_accept_key(const char *key, char out[WS_ACCEPT_SZ])
{
	/* 16 bytes in base64: 22 characters, then "==" */
	if (strlen(key) != 24 || key[22] != '=' || key[23] != '=')
		return EINVAL;
	for (int i = 0; i < 22; i++) {
		if (!is_b64(key[i]))
			return EINVAL;
	}
	char buf[24 + sizeof(WS_GUID)];
	memcpy(buf, key, 24);
	memcpy(buf + 24, WS_GUID, sizeof(WS_GUID));
	unsigned char md[SHA_DIGEST_LENGTH];
	SHA1((const unsigned char *)buf, 24 + sizeof(WS_GUID) - 1, md);
	return EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH) == WS_ACCEPT_SZ - 1 ? 0 : EINVAL;
}

int ws_frame_parse(uint8_t *buf, size_t n, size_t max, struct ws_frame *f)
{
	if (n < 2)
		return EAGAIN;
	uint8_t b0 = buf[0], b1 = buf[1];
	f->fin = b0 & 0x80;
	f->op = (enum ws_opcode)(b0 & 0x0f);
	if (b0 & 0x70)
		return EPROTO; /* no extension was negotiated */
	bool control = f->op & 0x08;
	if (f->op != WS_CONT && f->op != WS_TEXT && f->op != WS_BINARY && f->op != WS_CLOSE && f->op != WS_PING &&
	    f->op != WS_PONG)
		return EPROTO;
	if (!(b1 & 0x80))
		return EPROTO; /* §5.1: a client masks every frame */
	uint64_t len = b1 & 0x7f;
	size_t at = 2;
	if (control && (len > 125 || !f->fin))
		return EPROTO; /* §5.5 */
	if (len == 126) {
		if (n < 4)
			return EAGAIN;
		len = (uint64_t)buf[2] << 8 | buf[3];
		if (len < 126)
			return EPROTO;
		at = 4;
	} else if (len == 127) {
		if (n < 10)
			return EAGAIN;
		len = 0;
		for (int i = 2; i < 10; i++)
			len = len << 8 | buf[i];
		if (len < 65536 || len >> 63)
			return EPROTO;
		at = 10;
	}
	if (len > max)
		return EMSGSIZE;
	if (n - at < 4 || n - at - 4 < len)
		return EAGAIN;
	const uint8_t *mask = buf + at;
	f->payload = buf + at + 4;
	f->len = (size_t)len;
	f->size = at + 4 + f->len;
	for (size_t i = 0; i < f->len; i++)
		f->payload[i] ^= mask[i & 3];
	return 0;
}

size_t ws_frame_header(uint8_t out[10], enum ws_opcode op, size_t len)
{
	out[0] = (uint8_t)(0x80 | op);
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len < 65536) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

/* --- the upgrade request (§4.2.1) ---------------------------------------------------- */

/* The value of each header line named name, in turn: *at is where to look from. */
static bool hdr_next(const char *head, size_t len, const char *name, size_t *at, const char **v, size_t *vlen)
{
	size_t nl = strlen(name);
	while (*at < len) {
		const char *line = head + *at;
		const char *eol = memchr(line, '\n', len - *at);
		size_t ll = eol ? (size_t)(eol - line) : len - *at;
		*at += ll + 1;
		if (ll > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *p = line + nl + 1, *e = line + ll;
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*v = p;
			*vlen = (size_t)(e - p);
			return true;
		}
	}
	return false;
}

/* Whether a comma-separated header (every line of that name) lists token. */
static bool hdr_has_token(const char *head, size_t len, const char *name, const char *token)
{
	size_t at = 0, vlen, tl = strlen(token);
	const char *v;
	while (hdr_next(head, len, name, &at, &v, &vlen)) {
		for (size_t i = 0; i < vlen;) {
			while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
				i++;
			size_t j = i;
			while (j < vlen && v[j] != ',' && v[j] != ' ' && v[j] != '\t')
				j++;
			if (j - i == tl && strncasecmp(v + i, token, tl) == 0)
				return true;
			i = j;
		}
	}
	return false;
}

static bool hdr_value(const char *head, size_t len, const char *name, char *out, size_t outsz)
{
	size_t at = 0, vlen;
	const char *v;
	if (!hdr_next(head, len, name, &at, &v, &vlen) || vlen >= outsz)
		return false;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return true;
}

int ws_upgrade_check(const char *head, size_t n, const char *protocol, struct ws_upgrade *u)
{
	memset(u, 0, sizeof(*u));
	size_t hlen = 0;
	for (size_t i = 3; i < n && i < WS_HEAD_MAX; i++) {
		if (head[i] == '\n' && head[i - 1] == '\r' && head[i - 2] == '\n' && head[i - 3] == '\r') {
			hlen = i + 1;
			break;
		}
	}
	u->head_len = hlen;
	u->reason = "Bad Request";
	if (!hlen) {
		if (n < WS_HEAD_MAX)
			return 0;
		u->reason = "Request Header Fields Too Large";
		u->why = "the upgrade request is over 8 KiB";
		return 431;
	}
	const char *eol = memchr(head, '\r', hlen);
	size_t rl = eol ? (size_t)(eol - head) : hlen;
	if (rl < 14 || strncmp(head, "GET ", 4) != 0 || strncmp(head + rl - 9, " HTTP/1.1", 9) != 0) {
		u->why = "send GET <any path> HTTP/1.1 with Upgrade: websocket";
		return 400;
	}
	if (!hdr_has_token(head, hlen, "Upgrade", "websocket") || !hdr_has_token(head, hlen, "Connection", "upgrade")) {
		u->reason = "Upgrade Required";
		u->extra = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
		u->why = "this is a WebSocket: send Upgrade: websocket and Connection: Upgrade";
		return 426;
	}
	char version[16] = "", key[64];
	hdr_value(head, hlen, "Sec-WebSocket-Version", version, sizeof(version));
	if (strcmp(version, "13") != 0) {
		u->reason = "Upgrade Required";
		u->extra = "Sec-WebSocket-Version: 13\r\n";
		u->why = "WebSocket version 13 only";
		return 426;
	}
	if (!hdr_value(head, hlen, "Sec-WebSocket-Key", key, sizeof(key)) || ws_accept_key(key, u->accept)) {
		u->why = "Sec-WebSocket-Key: must be 16 bytes in base64";
		return 400;
	}
	if (protocol && !hdr_has_token(head, hlen, "Sec-WebSocket-Protocol", protocol)) {
		u->why = "Sec-WebSocket-Protocol: must offer sip (RFC 7118)";
		return 400;
	}
	return 101;
}
