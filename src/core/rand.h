/* Random text for secrets people never type (ICE credentials, the browser
 * phone's SIP credentials), and random bytes. */
#ifndef CORE_RAND_H
#define CORE_RAND_H

#include <stddef.h>

/* n characters of [A-Za-z0-9+/] (RFC 8445's ice-char: 6 bits each) from the
 * kernel's generator, then a NUL: out holds n + 1 bytes. 0, or EIO when no
 * randomness could be had (nothing predictable is written then). */
int rand_chars(char *out, size_t n);
/* n random bytes from the kernel's generator (SSRCs, initial sequence
 * numbers). 0, or EIO. */
int rand_bytes(void *out, size_t n);

#endif
