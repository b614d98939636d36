/* The RTP header's length (see rtp.h). */
#include "media/rtp.h"

#include <errno.h>

int media_rtp_header_len(const uint8_t *p, size_t len, size_t *hl)
{
	if (len < 12 || (p[0] & 0xc0) != 0x80)
		return EBADMSG;
	size_t n = 12 + 4 * (size_t)(p[0] & 0x0f);
	if (p[0] & 0x10) { /* a header extension */
		if (n + 4 > len)
			return EBADMSG;
		n += 4 + 4 * (size_t)(p[n + 2] << 8 | p[n + 3]);
	}
	if (n > len)
		return EBADMSG;
	*hl = n;
	return 0;
}
