"""bench/media's reference set-up: N calls through rtpengine's ng control
protocol (bencode over UDP), as a proxy's rtpengine module does for each call:
`offer` with the caller's SDP, `answer` with the callee's. The caller's SDP names
127.0.0.1:PORT_A, the callee's 127.0.0.1:PORT_B (rtpgen's two sockets); G.711
PCMU. Prints one line per call, "RA RB": rtpengine's port facing the caller
(from the answer's rewritten SDP) and the one facing the callee (from the
offer's), the file of pairs bench/media/rtpgen reads.

  rtpengine_calls.py NG_PORT N [PORT_A [PORT_B]]       (default 40000 40002)
  rtpengine_calls.py NG_PORT delete N                  (deletes the calls)

The encoder and decoder are ../../shared/bench/media_anchor.py's. Run with
/usr/bin/python3 (standard library only)."""
import random
import socket
import sys


def benc(x):
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    if isinstance(x, list):
        return b"l" + b"".join(benc(i) for i in x) + b"e"
    return b"d" + b"".join(benc(k) + benc(v) for k, v in sorted(x.items())) + b"e"


def bdec(s, i=0):
    c = s[i:i + 1]
    if c == b"i":
        j = s.index(b"e", i)
        return int(s[i + 1:j]), j + 1
    if c in (b"l", b"d"):
        i, items = i + 1, []
        while s[i:i + 1] != b"e":
            v, i = bdec(s, i)
            items.append(v)
        if c == b"l":
            return items, i + 1
        return {items[k].decode(): items[k + 1] for k in range(0, len(items), 2)}, i + 1
    j = s.index(b":", i)
    n = int(s[i:j])
    return s[j + 1:j + 1 + n], j + 1 + n


SOCK = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
SOCK.settimeout(5)


def ng(port, cmd):
    cookie = b"%x" % random.getrandbits(32)
    SOCK.sendto(cookie + b" " + benc(cmd), ("127.0.0.1", port))
    while True:
        data = SOCK.recv(65535)
        if data.startswith(cookie + b" "):
            r = bdec(data[len(cookie) + 1:])[0]
            if r.get("result") != b"ok":
                sys.exit("rtpengine %s: %s" % (cmd["command"], r))
            return r


def sdp(port):
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n" % port)


def media_port(body):
    for line in body.decode().split("\r\n"):
        if line.startswith("m=audio"):
            return int(line.split()[1])
    sys.exit("no m=audio in rtpengine's SDP")


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    port = int(argv[1])
    if argv[2] == "delete":
        for i in range(int(argv[3])):
            ng(port, {"command": "delete", "call-id": "bench-media-%d" % i, "from-tag": "a"})
        return
    n = int(argv[2])
    pa = int(argv[3]) if len(argv) > 3 else 40000
    pb = int(argv[4]) if len(argv) > 4 else 40002
    for i in range(n):
        cid = "bench-media-%d" % i
        r = ng(port, {"command": "offer", "call-id": cid, "from-tag": "a", "sdp": sdp(pa)})
        rb = media_port(r["sdp"])
        r = ng(port, {"command": "answer", "call-id": cid, "from-tag": "a", "to-tag": "b", "sdp": sdp(pb)})
        ra = media_port(r["sdp"])
        print(ra, rb)


if __name__ == "__main__":
    main(sys.argv)
