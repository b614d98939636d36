"""Mutated traffic through the whole stack, not just the parser: torture messages
with random bytes changed, inserted and cut, as UDP datagrams and as TCP streams
split at random points, some connections reset. pbxd must keep answering, and the
fixture's teardown checks it exits cleanly with no sanitizer report (issue 3: a
malformed message never crashes pbxd, never leaks, never stops the next answer).
Seeded, bounded in count, and never asserting on timing."""

import random
import socket
import struct

from conftest import TORTURE, make_options, sip_udp_request

CORPUS = sorted(p for p in TORTURE.glob("*/*") if p.suffix not in (".tsv", ".md"))


def _mutate(rng, data):
    d = bytearray(data)
    for _ in range(rng.randint(0, 4)):
        i = rng.randrange(len(d)) if d else 0
        op = rng.random()
        if op < 0.4 and d:
            d[i] = rng.randrange(256)
        elif op < 0.7:
            d[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif d:
            del d[i:i + rng.randint(1, 20)]
    return bytes(d)


def test_mutated_datagrams(pbxd):
    rng = random.Random(3)
    blobs = [p.read_bytes() for p in CORPUS]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    for n in range(20000):
        try:
            s.sendto(_mutate(rng, rng.choice(blobs)), ("127.0.0.1", pbxd.udp_port))
        except BlockingIOError:
            pass
        try:
            while True:
                s.recv(65535)
        except BlockingIOError:
            pass
        if n % 500 == 0:
            # pbxd keeps answering while it is being fed garbage
            assert sip_udp_request(pbxd.udp_port, make_options(pbxd.udp_port), timeout=5) == 200
    s.close()
    assert sip_udp_request(pbxd.udp_port, make_options(pbxd.udp_port), timeout=5) == 200


def test_mutated_tcp_streams(pbxd):
    rng = random.Random(4)
    blobs = [p.read_bytes() for p in CORPUS if p.parent.name == "rfc4475"]
    for _ in range(300):
        s = socket.create_connection(("127.0.0.1", pbxd.tcp_port), timeout=2)
        data = b"".join(rng.choice(blobs) for _ in range(rng.randint(1, 5)))
        if rng.random() < 0.3:
            data = _mutate(rng, data)
        if rng.random() < 0.2:
            data = b"\r\n\r\n" + data
        try:
            i = 0
            while i < len(data):
                n = rng.randint(1, 400)
                s.sendall(data[i:i + n])
                i += n
            s.settimeout(0.02)
            try:
                s.recv(65535)
            except (socket.timeout, OSError):
                pass
        except OSError:
            pass  # pbxd may close a connection whose stream it cannot frame
        if rng.random() < 0.3:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    assert sip_udp_request(pbxd.udp_port, make_options(pbxd.udp_port), timeout=5) == 200
