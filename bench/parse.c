/* bench_parse: how many SIP messages per second sip_msg_parse() takes apart, on a
 * mix of the messages a PBX sees most (REGISTER with credentials, INVITE with
 * SDP, 200 OK in compact form, ACK, BYE), each of a typical size.
 *
 * A figure alone says little, so it is printed against a floor measured in the
 * same run on the same bytes: a pass that finds every line end with memchr() and
 * copies the message into a buffer. That is the work no parser that keeps its own
 * copy of a datagram can avoid; the ratio says how much the parser costs on top of
 * it. (Kamailio's parser, the natural reference, cannot be isolated from its
 * process and shared-memory setup, so bench/options compares whole servers.)
 *
 * The two loops alternate in short rounds, so that a change of CPU frequency or a
 * noisy neighbour hits both alike.
 *
 * usage: bench_parse [SECONDS]   (default 3: seconds for each of parse and floor) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "sip/msg.h"

/* Header sections; Content-Length is appended with the body's real length. */
static const char register_hdrs[] =
	"REGISTER sip:pbx.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.168.1.34:5060;branch=z9hG4bK1c8f3a9e2d;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: \"Alice Smith\" <sip:201@pbx.example.com>;tag=a73kszlfl\r\n"
	"To: \"Alice Smith\" <sip:201@pbx.example.com>\r\n"
	"Call-ID: 1j9FpLxk3uxtm8tn@192.168.1.34\r\n"
	"CSeq: 2 REGISTER\r\n"
	"Contact: <sip:201@192.168.1.34:5060;transport=udp>;expires=3600;"
	"+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"\r\n"
	"Authorization: Digest username=\"201\", realm=\"pbx.example.com\", "
	"nonce=\"ZZPz3gAAAACM1ZzWq9nPxHHCaSpMfr8x\", uri=\"sip:pbx.example.com\", "
	"response=\"b9d6b4e8c1f1d7c07f0c1a3de0b9ed33\", algorithm=MD5, cnonce=\"0a4f113b\", "
	"qop=auth, nc=00000001\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
	"Supported: replaces, path, gruu, outbound\r\n"
	"User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
	"Expires: 3600\r\n";

static const char invite_hdrs[] =
	"INVITE sip:202@pbx.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.168.1.34:5060;branch=z9hG4bK74bf9a1c3;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: \"Alice Smith\" <sip:201@pbx.example.com>;tag=9fxced76sl\r\n"
	"To: <sip:202@pbx.example.com>\r\n"
	"Call-ID: 3848276298220188511@192.168.1.34\r\n"
	"CSeq: 1 INVITE\r\n"
	"Contact: <sip:201@192.168.1.34:5060;transport=udp>\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
	"Supported: replaces, timer, 100rel\r\n"
	"Session-Expires: 1800;refresher=uac\r\n"
	"Min-SE: 90\r\n"
	"User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
	"Content-Type: application/sdp\r\n";
static const char invite_sdp[] =
	"v=0\r\n"
	"o=- 20519 20519 IN IP4 192.168.1.34\r\n"
	"s=SDP data\r\n"
	"c=IN IP4 192.168.1.34\r\n"
	"t=0 0\r\n"
	"m=audio 11796 RTP/AVP 9 0 8 18 101\r\n"
	"a=rtpmap:9 G722/8000\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:18 G729/8000\r\n"
	"a=fmtp:18 annexb=no\r\n"
	"a=ptime:20\r\n"
	"a=sendrecv\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-15\r\n";

/* The answer, in compact forms as some user agents send it. */
static const char ok_hdrs[] =
	"SIP/2.0 200 OK\r\n"
	"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK74bf9a1c3;received=10.0.0.1;rport=5060\r\n"
	"f: \"Alice Smith\" <sip:201@pbx.example.com>;tag=9fxced76sl\r\n"
	"t: <sip:202@pbx.example.com>;tag=8321234356\r\n"
	"i: 3848276298220188511@192.168.1.34\r\n"
	"CSeq: 1 INVITE\r\n"
	"m: <sip:202@192.168.1.40:5060>\r\n"
	"k: replaces, timer\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, INFO\r\n"
	"c: application/sdp\r\n";
static const char ok_sdp[] =
	"v=0\r\n"
	"o=- 8061 8061 IN IP4 192.168.1.40\r\n"
	"s=-\r\n"
	"c=IN IP4 192.168.1.40\r\n"
	"t=0 0\r\n"
	"m=audio 16384 RTP/AVP 0 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=ptime:20\r\n";

static const char ack_hdrs[] =
	"ACK sip:202@192.168.1.40:5060 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.168.1.34:5060;branch=z9hG4bK5e2a7d;rport\r\n"
	"Max-Forwards: 70\r\n"
	"Route: <sip:pbx.example.com;lr>\r\n"
	"From: \"Alice Smith\" <sip:201@pbx.example.com>;tag=9fxced76sl\r\n"
	"To: <sip:202@pbx.example.com>;tag=8321234356\r\n"
	"Call-ID: 3848276298220188511@192.168.1.34\r\n"
	"CSeq: 1 ACK\r\n"
	"User-Agent: Yealink SIP-T46S 66.86.0.15\r\n";

static const char bye_hdrs[] =
	"BYE sip:201@192.168.1.34:5060;transport=udp SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.168.1.40:5060;branch=z9hG4bK2d4790;rport\r\n"
	"Max-Forwards: 70\r\n"
	"Route: <sip:pbx.example.com;lr>\r\n"
	"From: <sip:202@pbx.example.com>;tag=8321234356\r\n"
	"To: \"Alice Smith\" <sip:201@pbx.example.com>;tag=9fxced76sl\r\n"
	"Call-ID: 3848276298220188511@192.168.1.34\r\n"
	"CSeq: 2 BYE\r\n"
	"Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n"
	"User-Agent: Grandstream GXP2170 1.0.11.23\r\n";

struct sample {
	const char *name;
	char data[2048];
	size_t len;
};

static struct sample mix[5];

static void sample_make(struct sample *s, const char *name, const char *hdrs, const char *clen_name,
			const char *body)
{
	int n = snprintf(s->data, sizeof(s->data), "%s%s: %zu\r\n\r\n%s", hdrs, clen_name, strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(s->data)) {
		fprintf(stderr, "bench_parse: sample %s too long\n", name);
		exit(1);
	}
	s->name = name;
	s->len = (size_t)n;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the compiler must not optimise away. */
static volatile size_t sink;

static size_t parse_round(const struct sample *s, size_t ns, size_t iters)
{
	size_t done = 0;
	for (size_t i = 0; i < iters; i++) {
		for (size_t k = 0; k < ns; k++) {
			struct sip_msg *msg;
			struct sip_perr perr;
			if (sip_msg_parse(&msg, s[k].data, s[k].len, 0, &perr)) {
				fprintf(stderr, "bench_parse: %s failed: %s\n", s[k].name, perr.reason);
				exit(1);
			}
			sink += msg->hdrc;
			mem_deref(msg);
			done++;
		}
	}
	return done;
}

/* The floor: every CRLF found, every byte copied. */
static size_t floor_round(const struct sample *s, size_t ns, size_t iters)
{
	static char copy[2048];
	size_t done = 0;
	for (size_t i = 0; i < iters; i++) {
		for (size_t k = 0; k < ns; k++) {
			const char *p = s[k].data, *end = p + s[k].len;
			size_t lines = 0;
			while ((p = memchr(p, '\n', (size_t)(end - p))))
				p++, lines++;
			memcpy(copy, s[k].data, s[k].len);
			__asm__ volatile("" : : "r"(copy) : "memory");
			sink += lines;
			done++;
		}
	}
	return done;
}

typedef size_t (round_fn)(const struct sample *s, size_t ns, size_t iters);

/* Runs a and b alternately in rounds of about 50 ms until each has had seconds;
 * returns nanoseconds per message of each. */
static void measure(const struct sample *s, size_t ns, double seconds, round_fn *a, round_fn *b,
		    double *ns_a, double *ns_b)
{
	double ta = 0, tb = 0;
	size_t na = 0, nb = 0;
	size_t ia = 1000, ib = 1000;
	/* warm caches and branch predictors */
	a(s, ns, 100);
	b(s, ns, 100);
	while (ta < seconds || tb < seconds) {
		double t0 = now_s();
		na += a(s, ns, ia);
		double t1 = now_s();
		nb += b(s, ns, ib);
		double t2 = now_s();
		ta += t1 - t0;
		tb += t2 - t1;
		/* aim each round at ~50 ms */
		if (t1 - t0 < 0.05 && ia < 100000000)
			ia *= 2;
		if (t2 - t1 < 0.05 && ib < 100000000)
			ib *= 2;
	}
	*ns_a = ta * 1e9 / (double)na;
	*ns_b = tb * 1e9 / (double)nb;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	if (seconds <= 0)
		seconds = 3.0;

	sample_make(&mix[0], "REGISTER", register_hdrs, "Content-Length", "");
	sample_make(&mix[1], "INVITE+SDP", invite_hdrs, "Content-Length", invite_sdp);
	sample_make(&mix[2], "200 OK+SDP (compact)", ok_hdrs, "l", ok_sdp);
	sample_make(&mix[3], "ACK", ack_hdrs, "Content-Length", "");
	sample_make(&mix[4], "BYE", bye_hdrs, "Content-Length", "");
	const size_t nmix = sizeof(mix) / sizeof(mix[0]);

	size_t bytes = 0;
	printf("bench parse: mix of %zu messages:", nmix);
	for (size_t k = 0; k < nmix; k++) {
		printf("%s %s %zu B", k ? "," : "", mix[k].name, mix[k].len);
		bytes += mix[k].len;
	}
	printf("; %.1f s each for parse and floor\n", seconds);

	double ns_parse, ns_floor;
	measure(mix, nmix, seconds, parse_round, floor_round, &ns_parse, &ns_floor);
	printf("  pbxd sip_msg_parse        %12.0f msg/s  %8.1f ns/msg  %7.1f MB/s\n", 1e9 / ns_parse, ns_parse,
	       (double)bytes / (double)nmix / ns_parse * 1e3);
	printf("  floor memchr(CRLF)+copy   %12.0f msg/s  %8.1f ns/msg  %7.1f MB/s\n", 1e9 / ns_floor, ns_floor,
	       (double)bytes / (double)nmix / ns_floor * 1e3);
	printf("  ratio parse/floor (time per message): %.1fx\n", ns_parse / ns_floor);

	/* Each kind alone, for where the time goes. */
	double per = seconds / 5 < 0.2 ? 0.2 : seconds / 5;
	for (size_t k = 0; k < nmix; k++) {
		measure(&mix[k], 1, per, parse_round, floor_round, &ns_parse, &ns_floor);
		printf("  %-22s %5zu B  parse %7.1f ns  floor %6.1f ns  ratio %5.1fx\n", mix[k].name, mix[k].len,
		       ns_parse, ns_floor, ns_parse / ns_floor);
	}
	return 0;
}
