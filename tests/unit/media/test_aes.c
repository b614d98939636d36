/* Unit tests of src/media/aes.c (AES-128 CTR and GCM on AES-NI/PCLMULQDQ):
 * NIST's GCM test cases, then every data length from 0 to 300 bytes with
 * additional data of 0 to 40 bytes split two ways, random keys and IVs,
 * against OpenSSL's EVP: the same ciphertext and tag, the same plaintext back,
 * and a wrong tag or a flipped byte refused with the data left as it was. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media/aes.h"

static void hex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void evp_gcm(const uint8_t key[16], const uint8_t iv[12], const uint8_t *aad, size_t alen, const uint8_t *in,
		    size_t n, uint8_t *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l;
	assert_non_null(c);
	assert_int_equal(EVP_EncryptInit_ex2(c, EVP_aes_128_gcm(), key, iv, NULL), 1);
	if (alen)
		assert_int_equal(EVP_EncryptUpdate(c, NULL, &l, aad, (int)alen), 1);
	if (n)
		assert_int_equal(EVP_EncryptUpdate(c, out, &l, in, (int)n), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, out + n, &l), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
	EVP_CIPHER_CTX_free(c);
}

static void evp_ctr(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l;
	assert_non_null(c);
	assert_int_equal(EVP_EncryptInit_ex2(c, EVP_aes_128_ctr(), key, iv, NULL), 1);
	if (n)
		assert_int_equal(EVP_EncryptUpdate(c, out, &l, in, (int)n), 1);
	EVP_CIPHER_CTX_free(c);
}

/* NIST GCM spec (McGrew and Viega), test cases 2-4 (AES-128, 96-bit IV). */
static void test_gcm_nist_vectors(void **state)
{
	(void)state;
	if (!media_aes_hw())
		skip();
	struct media_aes a;
	uint8_t key[16] = { 0 }, iv[12] = { 0 }, p[64] = { 0 }, tag[16], want[64], wtag[16];
	media_aes_init(&a, key, true);
	/* case 2: one zero block */
	assert_int_equal(media_aes_gcm(&a, true, iv, NULL, 0, NULL, 0, p, 16, tag), 0);
	hex("0388dace60b6a392f328c2b971b2fe78", want, 16);
	hex("ab6e47d42cec13bdf53a67b21257bddf", wtag, 16);
	assert_memory_equal(p, want, 16);
	assert_memory_equal(tag, wtag, 16);

	/* case 3: 64 bytes, no AAD; case 4: 60 bytes with 20 bytes of AAD */
	hex("feffe9928665731c6d6a8f9467308308", key, 16);
	hex("cafebabefacedbaddecaf888", iv, 12);
	static const char *pt = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
				"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
	static const char *ct = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
				"21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985";
	media_aes_init(&a, key, true);
	hex(pt, p, 64);
	assert_int_equal(media_aes_gcm(&a, true, iv, NULL, 0, NULL, 0, p, 64, tag), 0);
	hex(ct, want, 64);
	hex("4d5c2af327cd64a62cf35abd2ba6fab4", wtag, 16);
	assert_memory_equal(p, want, 64);
	assert_memory_equal(tag, wtag, 16);

	uint8_t aad[20];
	hex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, 20);
	hex(pt, p, 60);
	/* the AAD in two pieces, as SRTCP gives it */
	assert_int_equal(media_aes_gcm(&a, true, iv, aad, 7, aad + 7, 13, p, 60, tag), 0);
	hex("5bc94fbc3221a5db94fae95ae7121a47", wtag, 16);
	assert_memory_equal(p, want, 60);
	assert_memory_equal(tag, wtag, 16);
	assert_int_equal(media_aes_gcm(&a, false, iv, aad, 20, NULL, 0, p, 60, tag), 0);
	hex(pt, want, 60);
	assert_memory_equal(p, want, 60);
	media_aes_wipe(&a);
}

static void test_gcm_against_openssl(void **state)
{
	(void)state;
	if (!media_aes_hw())
		skip();
	uint8_t key[16], iv[12], aad[40], in[300], mine[300], theirs[316], tag[16], ttag[16];
	struct media_aes a;
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t alen = n % 41;
		assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
		assert_int_equal(RAND_bytes(iv, sizeof(iv)), 1);
		assert_int_equal(RAND_bytes(aad, sizeof(aad)), 1);
		assert_int_equal(RAND_bytes(in, sizeof(in)), 1);
		media_aes_init(&a, key, true);
		memcpy(mine, in, n);
		size_t cut = alen ? n % alen : 0; /* where the AAD splits */
		assert_int_equal(media_aes_gcm(&a, true, iv, aad, cut, aad + cut, alen - cut, mine, n, tag), 0);
		evp_gcm(key, iv, aad, alen, in, n, theirs, ttag);
		assert_memory_equal(mine, theirs, n);
		assert_memory_equal(tag, ttag, 16);

		/* a flipped tag bit, then a flipped data byte: refused, untouched */
		tag[n % 16] ^= (uint8_t)(1u << (n % 8));
		assert_int_equal(media_aes_gcm(&a, false, iv, aad, alen, NULL, 0, mine, n, tag), EBADMSG);
		assert_memory_equal(mine, theirs, n);
		tag[n % 16] ^= (uint8_t)(1u << (n % 8));
		if (n) {
			mine[n / 2] ^= 0x40;
			assert_int_equal(media_aes_gcm(&a, false, iv, aad, alen, NULL, 0, mine, n, tag), EBADMSG);
			mine[n / 2] ^= 0x40;
		}
		assert_int_equal(media_aes_gcm(&a, false, iv, aad, alen, NULL, 0, mine, n, tag), 0);
		assert_memory_equal(mine, in, n);
	}
	media_aes_wipe(&a);
}

static void test_ctr_against_openssl(void **state)
{
	(void)state;
	if (!media_aes_hw())
		skip();
	uint8_t key[16], iv[16], in[300], mine[300], theirs[300];
	struct media_aes a;
	for (size_t n = 0; n <= sizeof(in); n++) {
		assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
		assert_int_equal(RAND_bytes(iv, sizeof(iv)), 1);
		assert_int_equal(RAND_bytes(in, sizeof(in)), 1);
		iv[14] = iv[15] = 0; /* SRTP's counter space: 2^16 blocks per packet */
		media_aes_init(&a, key, false);
		memcpy(mine, in, n);
		media_aes_ctr(&a, iv, mine, n);
		evp_ctr(key, iv, in, n, theirs);
		assert_memory_equal(mine, theirs, n);
		media_aes_ctr(&a, iv, mine, n);
		assert_memory_equal(mine, in, n);
	}
	media_aes_wipe(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcm_nist_vectors),
		cmocka_unit_test(test_gcm_against_openssl),
		cmocka_unit_test(test_ctr_against_openssl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
