/* G.711 (ITU-T G.711) μ-law and A-law: 8-bit samples to and from 16-bit linear
 * PCM, as the reference tables of the standard define them (internal to
 * src/media: the transcoder's narrowband side). */
#ifndef MEDIA_G711_H
#define MEDIA_G711_H

#include <stddef.h>
#include <stdint.h>

uint8_t g711_ulaw_encode(int16_t pcm);
int16_t g711_ulaw_decode(uint8_t u);
uint8_t g711_alaw_encode(int16_t pcm);
int16_t g711_alaw_decode(uint8_t a);

#endif
