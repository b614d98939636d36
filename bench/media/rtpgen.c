/* rtpgen: two-way G.711 RTP for N calls through a media relay, and what came
 * back. bench/media's load generator, for pbxd and for rtpengine alike.
 *
 * Every call has two legs seen from the relay: the caller's (A) and the
 * callee's (B). All callers send from one local socket (LOCAL:PORT_A, the
 * address every caller's SDP names) and all callees from another (LOCAL:PORT_B),
 * as a relay that latches to the SDP address expects. For call i the file of
 * pairs gives RA, the relay's port facing the caller (where A sends), and RB, the
 * one facing the callee (where B sends); what A sends must come out of RB toward
 * PORT_B, and what B sends out of RA toward PORT_A.
 *
 * Each direction of each call is one stream (2N streams): 50 packets a second
 * (20 ms of G.711 at 8 kHz: 12 bytes of RTP header, 160 of payload), its own SSRC,
 * sequence number and timestamp. The streams' sending instants are spread evenly
 * over each 20 ms (as calls that started at random moments), sent with sendmmsg
 * in batches; replies are read with recvmmsg and counted per stream by SSRC.
 * After SECONDS of sending, what is still in flight has DRAIN_MS to arrive.
 *
 * The last line is machine-readable:
 *   RESULT calls=N streams=2N sent=S received=R lost=L loss_pct=P
 *          streams_with_loss=K max_stream_loss=M misrouted=X late_ms=T skipped=Q
 *          elapsed=E
 * (misrouted: a packet of a stream that came back on the wrong socket; late_ms:
 * the most the sender ever was behind its schedule; skipped: packets not sent
 * because the sender was more than 60 ms behind, when the machine did not run
 * it: it then sends only the last 20 ms of what was due, never a burst).
 *
 * usage: rtpgen [-l LOCAL] [-s SERVER] [-A PORT_A] [-B PORT_B] [-t SECONDS]
 *               [-d DRAIN_MS] PAIRS_FILE       (file: "RA RB" per line, a call each)
 * Plain C17 and POSIX, with Linux's sendmmsg/recvmmsg. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
	PKT_LEN = 172,       /* RTP header + 160 bytes of G.711 */
	PPS = 50,            /* per stream */
	BATCH = 64,
	SSRC_BASE = 0x5a000000,
	MAX_CALLS = 100000,
};

struct stream {
	struct sockaddr_in dst;
	uint16_t seq;
	uint32_t ts;
	uint64_t sent;
	uint64_t received;
};

struct batch {
	int fd;
	unsigned n;
	struct mmsghdr mh[BATCH];
	struct iovec iov[BATCH];
	uint8_t buf[BATCH][PKT_LEN];
};

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int udp_socket(const char *addr, unsigned port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int big = 64 << 20;
	/* FORCE (as root) goes past net.core.rmem_max: a burst of every stream's
	 * packet must not overflow our side and count as the relay's loss. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	big = 8 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static uint64_t send_errors;

static void flush(struct batch *b)
{
	unsigned done = 0;
	while (done < b->n) {
		int r = sendmmsg(b->fd, b->mh + done, b->n - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN (our buffer full) or an ICMP error queued by an earlier
			 * packet: the rest of the batch is not sent (it counts as lost). */
			send_errors += b->n - done;
			break;
		}
		done += (unsigned)r;
	}
	b->n = 0;
}

static void queue(struct batch *b, struct stream *s, uint32_t ssrc)
{
	uint8_t *p = b->buf[b->n];
	p[0] = 0x80;
	p[1] = 0; /* PCMU */
	p[2] = (uint8_t)(s->seq >> 8);
	p[3] = (uint8_t)s->seq;
	p[4] = (uint8_t)(s->ts >> 24);
	p[5] = (uint8_t)(s->ts >> 16);
	p[6] = (uint8_t)(s->ts >> 8);
	p[7] = (uint8_t)s->ts;
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	b->iov[b->n] = (struct iovec){ .iov_base = p, .iov_len = PKT_LEN };
	b->mh[b->n] = (struct mmsghdr){ .msg_hdr = { .msg_name = &s->dst, .msg_namelen = sizeof(s->dst),
						      .msg_iov = &b->iov[b->n], .msg_iovlen = 1 } };
	s->seq++;
	s->ts += 160;
	s->sent++;
	if (++b->n == BATCH)
		flush(b);
}

static uint8_t rbuf[BATCH][2048];
static uint64_t misrouted, foreign;

/* side: 0 the callers' socket (receives B -> A streams, odd), 1 the callees'. */
static void drain(int fd, int side, struct stream *st, unsigned nstreams)
{
	struct mmsghdr mh[BATCH];
	struct iovec iov[BATCH];
	for (;;) {
		for (unsigned i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = rbuf[i], .iov_len = sizeof(rbuf[i]) };
			mh[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		int r = recvmmsg(fd, mh, BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			return;
		for (int i = 0; i < r; i++) {
			const uint8_t *p = rbuf[i];
			if (mh[i].msg_len < 12) {
				foreign++;
				continue;
			}
			uint32_t ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
			uint32_t idx = ssrc - SSRC_BASE;
			if (ssrc < SSRC_BASE || idx >= nstreams) {
				foreign++;
				continue;
			}
			/* even streams go A -> B and arrive on the callees' socket */
			if ((int)(idx % 2u) == side)
				misrouted++;
			st[idx].received++;
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: rtpgen [-l LOCAL] [-s SERVER] [-A PORT_A] [-B PORT_B] [-t SECONDS] [-d DRAIN_MS]"
			" PAIRS_FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *local = "127.0.0.1", *server = "127.0.0.1";
	unsigned port_a = 40000, port_b = 40002, drain_ms = 500;
	double seconds = 10;
	int opt;
	while ((opt = getopt(argc, argv, "l:s:A:B:t:d:")) != -1) {
		switch (opt) {
		case 'l': local = optarg; break;
		case 's': server = optarg; break;
		case 'A': port_a = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'B': port_b = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 'd': drain_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (optind != argc - 1 || seconds <= 0)
		usage();
	FILE *f = fopen(argv[optind], "r");
	if (!f) {
		perror(argv[optind]);
		return 2;
	}
	struct stream *st = calloc(2u * MAX_CALLS, sizeof(*st));
	struct sockaddr_in srv = { .sin_family = AF_INET };
	if (!st || inet_pton(AF_INET, server, &srv.sin_addr) != 1) {
		fprintf(stderr, "rtpgen: bad server address or no memory\n");
		return 2;
	}
	unsigned ncalls = 0, ra, rb;
	while (ncalls < MAX_CALLS && fscanf(f, "%u %u", &ra, &rb) == 2) {
		if (!ra || ra > 65535 || !rb || rb > 65535) {
			fprintf(stderr, "rtpgen: bad ports on line %u\n", ncalls + 1);
			return 2;
		}
		st[2 * ncalls].dst = srv;
		st[2 * ncalls].dst.sin_port = htons((uint16_t)ra);
		st[2 * ncalls + 1].dst = srv;
		st[2 * ncalls + 1].dst.sin_port = htons((uint16_t)rb);
		ncalls++;
	}
	fclose(f);
	if (!ncalls) {
		fprintf(stderr, "rtpgen: no call in %s\n", argv[optind]);
		return 2;
	}
	unsigned nstreams = 2 * ncalls;
	for (unsigned i = 0; i < nstreams; i++) {
		st[i].seq = (uint16_t)(i * 7919u);
		st[i].ts = i * 104729u;
	}
	int fda = udp_socket(local, port_a), fdb = udp_socket(local, port_b);
	if (fda < 0 || fdb < 0) {
		fprintf(stderr, "rtpgen: cannot bind %s:%u and %u: %s\n", local, port_a, port_b, strerror(errno));
		return 2;
	}
	static struct batch ba, bb;
	ba.fd = fda;
	bb.fd = fdb;

	/* Packet k of the run goes at k / (nstreams * PPS) s: stream k % nstreams,
	 * its round k / nstreams. */
	const uint64_t t0 = now_ns();
	const uint64_t total = (uint64_t)((double)nstreams * PPS * seconds);
	uint64_t k = 0, skipped = 0, late_max = 0, late_5ms = 0, late_20ms = 0, late_100ms = 0;
	while (k < total) {
		uint64_t t = now_ns();
		uint64_t due = (uint64_t)((double)(t - t0) * nstreams * PPS / 1e9) + 1;
		if (due > total)
			due = total;
		if (due > k + 1) {
			uint64_t late = t - (t0 + (uint64_t)((double)k * 1e9 / nstreams / PPS));
			if (late > late_max)
				late_max = late;
			late_5ms += late > 5000000u;
			late_20ms += late > 20000000u;
			late_100ms += late > 100000000u;
		}
		/* Fallen behind by more than 60 ms (this process was not run: the
		 * machine is busy): what was due before the last 20 ms is skipped, not
		 * sent in a burst no real phone would send (a burst of 50 packets on
		 * one socket trips rtpengine's overload guard for good). */
		uint64_t window = (uint64_t)nstreams * PPS / 50u, limit = (uint64_t)nstreams * PPS * 3u / 50u;
		if (due - k > limit) {
			for (uint64_t j = k; j < due - window; j++) {
				struct stream *sk = &st[j % nstreams];
				sk->seq++;
				sk->ts += 160;
			}
			skipped += due - window - k;
			k = due - window;
		}
		for (; k < due; k++) {
			unsigned s = (unsigned)(k % nstreams);
			queue(s % 2u ? &bb : &ba, &st[s], SSRC_BASE + s);
		}
		flush(&ba);
		flush(&bb);
		drain(fda, 0, st, nstreams);
		drain(fdb, 1, st, nstreams);
		struct timespec nap = { 0, 200000 };
		nanosleep(&nap, NULL);
	}
	uint64_t stop = now_ns();
	while (now_ns() < stop + (uint64_t)drain_ms * 1000000u) {
		drain(fda, 0, st, nstreams);
		drain(fdb, 1, st, nstreams);
		struct timespec nap = { 0, 1000000 };
		nanosleep(&nap, NULL);
	}
	uint64_t sent = 0, got = 0, max_loss = 0;
	unsigned with_loss = 0;
	for (unsigned i = 0; i < nstreams; i++) {
		sent += st[i].sent;
		got += st[i].received;
		uint64_t lost = st[i].sent > st[i].received ? st[i].sent - st[i].received : 0;
		if (lost) {
			with_loss++;
			if (lost > max_loss)
				max_loss = lost;
		}
	}
	sent -= send_errors;
	uint64_t lost = sent > got ? sent - got : 0;
	double elapsed = (double)(stop - t0) / 1e9;
	printf("calls %u, streams %u, %.0f packets/s sent for %.2f s (%llu not sent: our errors)\n", ncalls, nstreams,
	       (double)sent / elapsed, elapsed, (unsigned long long)send_errors);
	if (skipped)
		printf("%llu packets skipped, not sent: this sender was more than 60 ms behind its schedule\n",
		       (unsigned long long)skipped);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("rtpgen's own cpu %.2f s (%.2f cores), %ld involuntary context switches; behind schedule by"
	       " more than 5 ms %llu times, 20 ms %llu, 100 ms %llu\n",
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		       (double)ru.ru_stime.tv_usec / 1e6,
	       ((double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		(double)ru.ru_stime.tv_usec / 1e6) / elapsed,
	       ru.ru_nivcsw, (unsigned long long)late_5ms, (unsigned long long)late_20ms,
	       (unsigned long long)late_100ms);
	if (foreign)
		printf("%llu packets of no stream of ours\n", (unsigned long long)foreign);
	printf("RESULT calls=%u streams=%u sent=%llu received=%llu lost=%llu loss_pct=%.4f streams_with_loss=%u"
	       " max_stream_loss=%llu misrouted=%llu late_ms=%.1f skipped=%llu elapsed=%.3f\n",
	       ncalls, nstreams, (unsigned long long)sent, (unsigned long long)got, (unsigned long long)lost,
	       sent ? 100.0 * (double)lost / (double)sent : 0.0, with_loss, (unsigned long long)max_loss,
	       (unsigned long long)misrouted, (double)late_max / 1e6, (unsigned long long)skipped, elapsed);
	return 0;
}
