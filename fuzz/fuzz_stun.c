/* libFuzzer target for STUN (src/media/stun.c), what every WebRTC media port
 * reads from anyone: the input is parsed; when it parses, its integrity is
 * checked with a fixed password and its fingerprint, and an answer is built to
 * it (success and error) and parsed back, which must work. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_msg m;
	int e = stun_parse(data, size, &m);
	if (e && e != EBADMSG)
		abort();
	if (e)
		return 0;
	if (m.len != size || (m.username && m.username + m.username_len > data + size) ||
	    m.integrity_at + (m.integrity_at ? 24 : 0) > size || m.fingerprint_at + (m.fingerprint_at ? 8 : 0) > size)
		abort();
	(void)stun_integrity_ok(&m, "fuzz-password", 13);
	(void)stun_fingerprint_ok(&m);
	struct sa mapped;
	if (stun_xor_mapped(&m, &mapped) == 0 && mapped.len == 0)
		abort();
	sa_set(&mapped, "192.0.2.7", 5004);
	uint8_t out[512];
	size_t n = stun_binding_success(out, sizeof(out), m.tid, &mapped, NULL, "fuzz-password", 13);
	struct stun_msg r;
	if (!n || stun_parse(out, n, &r) || !stun_integrity_ok(&r, "fuzz-password", 13) || !stun_fingerprint_ok(&r))
		abort();
	n = stun_binding_error(out, sizeof(out), m.tid, 400, "Bad Request", NULL, 0);
	if (!n || stun_parse(out, n, &r) || !stun_fingerprint_ok(&r))
		abort();
	return 0;
}
