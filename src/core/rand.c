/* Random text (see rand.h). */
#include "core/rand.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

int rand_chars(char *out, size_t n)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t r[64];
	for (size_t done = 0; done < n;) {
		size_t k = n - done < sizeof(r) ? n - done : sizeof(r);
		if (getrandom(r, k, 0) != (ssize_t)k) {
			out[0] = '\0';
			return EIO;
		}
		for (size_t i = 0; i < k; i++)
			out[done + i] = chars[r[i] & 63];
		done += k;
	}
	out[n] = '\0';
	return 0;
}

int rand_bytes(void *out, size_t n)
{
	uint8_t *p = out;
	for (size_t done = 0; done < n;) {
		ssize_t k = getrandom(p + done, n - done, 0);
		if (k <= 0)
			return EIO;
		done += (size_t)k;
	}
	return 0;
}
