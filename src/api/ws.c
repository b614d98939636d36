/* WebSocket framing (see ws.h). Every length read from the wire is checked
 * against what the buffer holds before it is used. */
#include "api/ws.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

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
