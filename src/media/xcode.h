/* A transcoding endpoint (internal to src/media; see media.h's
 * media_relay_codecs): one direction of a relay whose sides send different
 * codecs. It takes what one side sent (plain RTP), decodes the audio to 8 kHz
 * linear PCM, encodes it in the other side's codec and delivers new RTP
 * packets (its own SSRC, sequence and timestamps following the source's
 * timeline) to the far endpoint. Telephone-events (RFC 4733) go across with the
 * other side's payload type and clock; RTCP does not (it describes a stream the
 * far side never sees). */
#ifndef MEDIA_XCODE_H
#define MEDIA_XCODE_H

#include "media/media.h"
#include "media/sockep.h"

struct media_xcode;

/* From codec `in` (what the source side sends) to `out` (what the far side
 * takes). scratch: the worker's output buffers (one batch). 0, EINVAL (not a
 * pair this can transcode), ENOMEM or EIO (the codec library refused). */
int media_xcode_alloc(struct media_xcode **xp, const struct media_codec_side *in, const struct media_codec_side *out,
		      struct media_batch *scratch);
void media_xcode_free(struct media_xcode *x);
/* Its input endpoint; what it makes goes to far (may change, NULL drops). */
struct media_endpoint *media_xcode_ep(struct media_xcode *x);
void media_xcode_far_set(struct media_xcode *x, struct media_endpoint *far);

#endif
