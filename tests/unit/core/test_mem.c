/* Unit tests for the small core types: reference-counted memory (mem.c), the
 * capped buffer (mbuf.c), pointer-length slices (pl.c) and socket addresses
 * (sa.c). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "core/pl.h"
#include "core/sa.h"

/* ---- mem ---- */

static char order[16];
static size_t norder;

struct node {
	char name;
	struct node *child;
};

static void node_destroy(void *data)
{
	struct node *n = data;
	order[norder++] = n->name;
	mem_deref(n->child);
}

static struct node *node_new(char name, struct node *child)
{
	struct node *n = mem_zalloc(sizeof(*n), node_destroy);
	assert_non_null(n);
	n->name = name;
	n->child = child;
	return n;
}

static void test_mem_refcount(void **state)
{
	(void)state;
	norder = 0;
	struct node *n = node_new('a', NULL);
	assert_int_equal(mem_nrefs(n), 1);
	assert_ptr_equal(mem_ref(n), n);
	assert_int_equal(mem_nrefs(n), 2);
	assert_null(mem_deref(n));
	assert_int_equal(norder, 0); /* one reference left: not destroyed */
	assert_int_equal(mem_nrefs(n), 1);
	n = mem_deref(n);
	assert_null(n);
	assert_int_equal(norder, 1);
	assert_int_equal(order[0], 'a');
	/* NULL is accepted everywhere */
	assert_null(mem_deref(NULL));
	assert_null(mem_ref(NULL));
	assert_int_equal(mem_nrefs(NULL), 0);
}

static void test_mem_zeroed(void **state)
{
	(void)state;
	unsigned char *p = mem_zalloc(4096, NULL);
	assert_non_null(p);
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(p[i], 0);
	/* suitably aligned for any type */
	assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
	mem_deref(p);
	/* an impossible size fails cleanly */
	assert_null(mem_zalloc(SIZE_MAX - 4, NULL));
}

static void test_mem_destructor_order(void **state)
{
	(void)state;
	norder = 0;
	/* c <- b <- a: dropping a destroys a, then b, then c (each destructor drops
	 * its child); a shared child survives until its last holder goes */
	struct node *c = node_new('c', NULL);
	struct node *b = node_new('b', c);
	struct node *a = node_new('a', b);
	struct node *d = node_new('d', mem_ref(b));
	assert_int_equal(mem_nrefs(b), 2);
	a = mem_deref(a);
	assert_int_equal(norder, 1);
	assert_int_equal(order[0], 'a');
	assert_int_equal(mem_nrefs(b), 1);
	d = mem_deref(d);
	assert_int_equal(norder, 4);
	assert_memory_equal(order, "adbc", 4);
	assert_null(a);
	assert_null(d);
}

static void test_mem_strndup(void **state)
{
	(void)state;
	char *s = mem_strndup("hello world", 5);
	assert_non_null(s);
	assert_string_equal(s, "hello");
	assert_int_equal(mem_nrefs(s), 1);
	mem_deref(s);
	s = mem_strndup("", 0);
	assert_non_null(s);
	assert_string_equal(s, "");
	mem_deref(s);
	/* embedded NUL: len bytes are copied, terminated after them */
	s = mem_strndup("a\0b", 3);
	assert_memory_equal(s, "a\0b\0", 4);
	mem_deref(s);
}

/* ---- mbuf ---- */

static void test_mbuf_growth(void **state)
{
	(void)state;
	struct mbuf *mb = mbuf_alloc(4, 0);
	assert_non_null(mb);
	assert_int_equal(mb->size, 4);
	char chunk[100];
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)('A' + i % 26);
	for (int i = 0; i < 100; i++)
		assert_int_equal(mbuf_write_mem(mb, chunk, sizeof(chunk)), 0);
	assert_int_equal(mb->end, 10000);
	assert_true(mb->size >= 10000);
	for (int i = 0; i < 100; i++)
		assert_memory_equal(mb->buf + i * 100, chunk, 100);
	assert_int_equal(mbuf_left(mb), 10000);
	assert_int_equal(mbuf_write_mem(mb, NULL, 0), 0);
	assert_int_equal(mb->end, 10000);
	mbuf_reset(mb);
	assert_int_equal(mb->end, 0);
	assert_int_equal(mb->pos, 0);
	mem_deref(mb);

	/* a zero-size buffer grows on first write */
	mb = mbuf_alloc(0, 0);
	assert_non_null(mb);
	assert_int_equal(mbuf_write_str(mb, "abc"), 0);
	struct pl pl = PL("def");
	assert_int_equal(mbuf_write_pl(mb, &pl), 0);
	assert_int_equal(mb->end, 6);
	assert_memory_equal(mb->buf, "abcdef", 6);
	mem_deref(mb);
}

static void test_mbuf_cap(void **state)
{
	(void)state;
	struct mbuf *mb = mbuf_alloc(1000, 64);
	assert_non_null(mb);
	assert_true(mb->size <= 64); /* size is clipped to max */
	char x[64];
	memset(x, 'x', sizeof(x));
	assert_int_equal(mbuf_write_mem(mb, x, 60), 0);
	assert_int_equal(mbuf_write_mem(mb, x, 5), EMSGSIZE);
	assert_int_equal(mb->end, 60); /* a failed write leaves the buffer as it was */
	assert_int_equal(mbuf_write_mem(mb, x, 4), 0); /* exactly to max is fine */
	assert_int_equal(mb->end, 64);
	assert_int_equal(mbuf_write_mem(mb, x, 1), EMSGSIZE);
	assert_int_equal(mbuf_printf(mb, "%d", 1), EMSGSIZE);
	assert_int_equal(mb->end, 64);
	assert_int_equal(mbuf_reserve(mb, SIZE_MAX), EMSGSIZE);
	mem_deref(mb);

	/* growth from small stops at max */
	mb = mbuf_alloc(8, 300);
	for (int i = 0; i < 30; i++)
		assert_int_equal(mbuf_write_mem(mb, "0123456789", 10), 0);
	assert_int_equal(mb->end, 300);
	assert_true(mb->size <= 300);
	assert_int_equal(mbuf_write_str(mb, "!"), EMSGSIZE);
	mem_deref(mb);
}

static void test_mbuf_printf(void **state)
{
	(void)state;
	struct mbuf *mb = mbuf_alloc(8, 0);
	assert_non_null(mb);
	assert_int_equal(mbuf_printf(mb, "%s=%d;", "a", 1), 0);
	/* longer than the room left: the buffer grows and the text is whole */
	assert_int_equal(mbuf_printf(mb, "%s %u %s", "SIP/2.0", 486u, "Busy Here, with a long reason phrase"), 0);
	const char *want = "a=1;SIP/2.0 486 Busy Here, with a long reason phrase";
	assert_int_equal(mb->end, strlen(want));
	assert_memory_equal(mb->buf, want, strlen(want));
	assert_int_equal(mbuf_printf(mb, "%s", ""), 0);
	assert_int_equal(mb->end, strlen(want));
	mem_deref(mb);

	/* printing into a buffer with no storage yet */
	mb = mbuf_alloc(0, 0);
	assert_int_equal(mbuf_printf(mb, "%05d", 42), 0);
	assert_int_equal(mb->end, 5);
	assert_memory_equal(mb->buf, "00042", 5);
	mem_deref(mb);

	/* text that fits the cap exactly, though the buffer must grow for it */
	mb = mbuf_alloc(4, 10);
	assert_int_equal(mbuf_printf(mb, "%s", "0123456789"), 0);
	assert_int_equal(mb->end, 10);
	assert_memory_equal(mb->buf, "0123456789", 10);
	mem_deref(mb);
}

static void test_mbuf_shift(void **state)
{
	(void)state;
	struct mbuf *mb = mbuf_alloc(16, 0);
	assert_int_equal(mbuf_write_str(mb, "INVITE sip:a SIP/2.0\r\n"), 0);
	mb->pos = 10;
	mbuf_shift(mb, 7);
	assert_int_equal(mb->end, 15);
	assert_int_equal(mb->pos, 3);
	assert_memory_equal(mb->buf, "sip:a SIP/2.0\r\n", 15);
	mbuf_shift(mb, 5); /* past pos: pos goes to 0 */
	assert_int_equal(mb->pos, 0);
	assert_int_equal(mb->end, 10);
	assert_memory_equal(mb->buf, " SIP/2.0\r\n", 10);
	mbuf_shift(mb, 0);
	assert_int_equal(mb->end, 10);
	mbuf_shift(mb, 100);
	assert_int_equal(mb->end, 0);
	assert_int_equal(mb->pos, 0);
	mem_deref(mb);
}

/* ---- pl ---- */

static void test_pl_u64(void **state)
{
	(void)state;
	uint64_t v = 7;
	struct pl p = PL("12345");
	assert_int_equal(pl_u64(&p, UINT64_MAX, &v), 0);
	assert_int_equal(v, 12345);
	p = PL("18446744073709551615");
	assert_int_equal(pl_u64(&p, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	v = 7;
	p = PL("18446744073709551616");
	assert_int_equal(pl_u64(&p, UINT64_MAX, &v), ERANGE);
	p = PL("99999999999999999999999");
	assert_int_equal(pl_u64(&p, UINT64_MAX, &v), ERANGE);
	assert_int_equal(v, 7); /* untouched on failure */
	p = PL("65535");
	assert_int_equal(pl_u64(&p, 65535, &v), 0);
	assert_int_equal(v, 65535);
	p = PL("65536");
	assert_int_equal(pl_u64(&p, 65535, &v), ERANGE);
	p = PL("0");
	assert_int_equal(pl_u64(&p, 0, &v), 0);
	assert_int_equal(v, 0);
	/* a single digit above a small max */
	v = 7;
	p = PL("9");
	assert_int_equal(pl_u64(&p, 5, &v), ERANGE);
	p = PL("19");
	assert_int_equal(pl_u64(&p, 5, &v), ERANGE);
	p = PL("6");
	assert_int_equal(pl_u64(&p, 5, &v), ERANGE);
	assert_int_equal(v, 7);
	p = PL("5");
	assert_int_equal(pl_u64(&p, 5, &v), 0);
	assert_int_equal(v, 5);

	const char *bad[] = { "", "12a", "-1", "+1", " 1", "1 ", "0x10", "1.5" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = pl_cstr(bad[i]);
		assert_int_equal(pl_u64(&p, UINT64_MAX, &v), EINVAL);
	}
	struct pl unset = PL_INIT;
	assert_int_equal(pl_u64(&unset, UINT64_MAX, &v), EINVAL);
	/* only the slice is read: digits after it do not count */
	p = pl_from("123456", 3);
	assert_int_equal(pl_u64(&p, UINT64_MAX, &v), 0);
	assert_int_equal(v, 123);
}

static void test_pl_trim(void **state)
{
	(void)state;
	struct pl t = pl_trim(PL(" \t\r\n value with  inner space \r\n\t "));
	assert_true(pl_eq_str(&t, "value with  inner space"));
	t = pl_trim(PL("x"));
	assert_true(pl_eq_str(&t, "x"));
	t = pl_trim(PL(" \r\n\t"));
	assert_int_equal(t.l, 0);
	t = pl_trim(PL(""));
	assert_int_equal(t.l, 0);
	/* other control characters are not whitespace */
	t = pl_trim(PL("\v a \f"));
	assert_int_equal(t.l, 5);
}

static void test_pl_compare(void **state)
{
	(void)state;
	struct pl a = PL("Call-ID"), b = PL("call-id"), c = PL("Call-IE"), d = PL("Call-I");
	assert_true(pl_caseeq(&a, &b));
	assert_false(pl_eq(&a, &b));
	assert_false(pl_caseeq(&a, &c));
	assert_false(pl_caseeq(&a, &d));
	assert_true(pl_eq(&a, &a));
	assert_true(pl_eq_str(&a, "Call-ID"));
	assert_false(pl_eq_str(&a, "Call-Id"));
	assert_true(pl_caseeq_str(&a, "CALL-ID"));
	assert_false(pl_caseeq_str(&a, "CALL-ID "));
	struct pl e1 = PL_INIT, e2 = PL("");
	assert_true(pl_eq(&e1, &e2));
	assert_true(pl_caseeq(&e1, &e2));
	assert_false(pl_isset(&e1));
	assert_true(pl_isset(&e2));
	/* slices are compared by length, not up to a NUL */
	struct pl n1 = pl_from("ab\0cd", 5), n2 = pl_from("AB\0CE", 5), n3 = pl_from("AB\0CD", 5);
	assert_false(pl_eq(&n1, &n2));
	assert_false(pl_caseeq(&n1, &n2));
	assert_true(pl_caseeq(&n1, &n3));
	/* non-letters are not folded */
	struct pl s1 = PL("a@[x"), s2 = PL("A`{X");
	assert_false(pl_caseeq(&s1, &s2));
}

static void test_pl_misc(void **state)
{
	(void)state;
	struct pl p = PL("host:5060;transport=tcp");
	assert_int_equal(pl_chr(&p, ':'), 4);
	assert_int_equal(pl_chr(&p, ';'), 9);
	assert_int_equal(pl_chr(&p, '@'), -1);
	struct pl e = PL_INIT;
	assert_int_equal(pl_chr(&e, 'a'), -1);
	char buf[8];
	assert_string_equal(pl_strcpy(&p, buf, sizeof(buf)), "host:50");
	struct pl s = pl_from(p.p, 4);
	assert_string_equal(pl_strcpy(&s, buf, sizeof(buf)), "host");
	assert_string_equal(pl_strcpy(&e, buf, sizeof(buf)), "");
	struct pl h1 = PL("Branch"), h2 = PL("bRANCH");
	assert_int_equal(pl_hash_case(&h1, 0), pl_hash_case(&h2, 0));
	assert_int_not_equal(pl_hash(&h1, 0), pl_hash(&h2, 0));
	struct pl c = pl_cstr(NULL);
	assert_int_equal(c.l, 0);
}

/* ---- sa ---- */

static void test_sa_v4(void **state)
{
	(void)state;
	struct sa a, b;
	char buf[64];
	assert_int_equal(sa_set(&a, "192.0.2.10", 5060), 0);
	assert_int_equal(sa_af(&a), AF_INET);
	assert_int_equal(sa_port(&a), 5060);
	assert_int_equal(a.len, sizeof(struct sockaddr_in));
	assert_string_equal(sa_str(&a, buf, sizeof(buf)), "192.0.2.10:5060");
	assert_string_equal(sa_ntop(&a, buf, sizeof(buf)), "192.0.2.10");
	sa_set_port(&a, 5080);
	assert_int_equal(sa_port(&a), 5080);
	assert_string_equal(sa_str(&a, buf, sizeof(buf)), "192.0.2.10:5080");
	assert_int_equal(sa_set(&b, "192.0.2.10", 5060), 0);
	assert_false(sa_eq(&a, &b));
	assert_true(sa_eq_addr(&a, &b));
	sa_set_port(&b, 5080);
	assert_true(sa_eq(&a, &b));
	assert_int_equal(sa_hash_addr(&a), sa_hash_addr(&b));
	assert_int_equal(sa_set(&b, "192.0.2.11", 5080), 0);
	assert_false(sa_eq(&a, &b));
	assert_false(sa_is_any(&a));
	assert_int_equal(sa_set(&b, "0.0.0.0", 0), 0);
	assert_true(sa_is_any(&b));

	const char *bad[] = { "", "192.0.2", "192.0.2.256", "example.com", "1.2.3.4:5060", "[1.2.3.4" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sa_set(&a, bad[i], 1), EINVAL);
}

static void test_sa_v6(void **state)
{
	(void)state;
	struct sa a, b, c;
	char buf[80];
	assert_int_equal(sa_set(&a, "2001:db8::1", 5061), 0);
	assert_int_equal(sa_af(&a), AF_INET6);
	assert_int_equal(sa_port(&a), 5061);
	assert_int_equal(a.len, sizeof(struct sockaddr_in6));
	assert_string_equal(sa_str(&a, buf, sizeof(buf)), "[2001:db8::1]:5061");
	assert_string_equal(sa_ntop(&a, buf, sizeof(buf)), "2001:db8::1");
	/* with brackets, and in a longer form of the same address */
	assert_int_equal(sa_set(&b, "[2001:db8::1]", 5061), 0);
	assert_true(sa_eq(&a, &b));
	struct pl pl = PL("[2001:0db8:0:0:0:0:0:0001]");
	assert_int_equal(sa_set_pl(&c, &pl, 5061), 0);
	assert_true(sa_eq(&a, &c));
	assert_string_equal(sa_str(&c, buf, sizeof(buf)), "[2001:db8::1]:5061");
	assert_int_equal(sa_set(&b, "::1", 5060), 0);
	assert_string_equal(sa_str(&b, buf, sizeof(buf)), "[::1]:5060");
	assert_false(sa_eq_addr(&a, &b));
	assert_int_equal(sa_set(&b, "::", 0), 0);
	assert_true(sa_is_any(&b));
	/* IPv4 and IPv6 never compare equal, even for the mapped form */
	assert_int_equal(sa_set(&b, "::ffff:192.0.2.1", 5060), 0);
	assert_int_equal(sa_set(&c, "192.0.2.1", 5060), 0);
	assert_false(sa_eq(&b, &c));
	assert_false(sa_eq_addr(&b, &c));
	assert_int_equal(sa_set(&a, "[2001:db8::1", 1), EINVAL);
	assert_int_equal(sa_set(&a, "2001:db8::g", 1), EINVAL);
	assert_int_equal(sa_set(&a, "[]", 1), EINVAL);
}

/* One object held by two threads at once (pbxd's DTLS certificate: the
 * signalling thread refers to it, media workers let go of it): no count lost. */
static pthread_barrier_t churn_start;

static void *ref_churn(void *arg)
{
	pthread_barrier_wait(&churn_start); /* all at once, not one after another */
	for (int i = 0; i < 1000000; i++) {
		mem_ref(arg);
		mem_deref(arg);
	}
	return NULL;
}

static void test_mem_refcount_across_threads(void **state)
{
	(void)state;
	int *obj = mem_zalloc(sizeof(*obj), NULL);
	assert_non_null(obj);
	pthread_t t[4];
	assert_int_equal(pthread_barrier_init(&churn_start, NULL, 4), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, ref_churn, obj), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&churn_start);
	assert_int_equal(mem_nrefs(obj), 1);
	mem_deref(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_refcount),
		cmocka_unit_test(test_mem_refcount_across_threads),
		cmocka_unit_test(test_mem_zeroed),
		cmocka_unit_test(test_mem_destructor_order),
		cmocka_unit_test(test_mem_strndup),
		cmocka_unit_test(test_mbuf_growth),
		cmocka_unit_test(test_mbuf_cap),
		cmocka_unit_test(test_mbuf_printf),
		cmocka_unit_test(test_mbuf_shift),
		cmocka_unit_test(test_pl_u64),
		cmocka_unit_test(test_pl_trim),
		cmocka_unit_test(test_pl_compare),
		cmocka_unit_test(test_pl_misc),
		cmocka_unit_test(test_sa_v4),
		cmocka_unit_test(test_sa_v6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
