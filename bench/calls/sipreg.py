"""Registers the callee extensions of bench/calls and bench/media: extensions
FIRST .. FIRST+COUNT-1 of DOMAIN (SIP password PREFIX + extension, as
bench/register_users.py creates them), each with one binding whose Contact is
sip:EXT@LOCAL_IP:LOCAL_PORT, sent from that very address and port. A SIPp UAS
started on the port afterwards then answers the INVITEs: pbxd sends them to the
address a device registered from, Kamailio to the Contact, and both are the same
here.

  sipreg.py SERVER_IP:PORT LOCAL_IP:LOCAL_PORT DOMAIN FIRST COUNT PREFIX [EXPIRES]

Each registration is REGISTER, its 401 (or 407), REGISTER with MD5 digest
credentials (qop=auth when offered), 200; up to 32 in flight. Prints
"registered N of COUNT in S s" and exits 1 when any failed.

Run with /usr/bin/python3 (standard library only)."""
import hashlib
import os
import re
import socket
import sys
import time


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def challenge_params(v):
    return {k.lower(): (q if q else t) for k, q, t in
            re.findall(r'([A-Za-z-]+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', v)}


def main(argv):
    if len(argv) < 7:
        sys.exit(__doc__)
    shost, sport = argv[1].rsplit(":", 1)
    lhost, lport = argv[2].rsplit(":", 1)
    domain, first, count, prefix = argv[3], int(argv[4]), int(argv[5]), argv[6]
    expires = int(argv[7]) if len(argv) > 7 else 3600
    server = (shost, int(sport))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((lhost, int(lport)))
    s.settimeout(0.2)
    tag = os.urandom(4).hex()
    users = {}  # call-id -> state
    todo = list(range(first, first + count))
    ok = failed = 0
    t0 = time.monotonic()

    def send(u, auth=""):
        u["cseq"] += 1
        u["branch"] = "z9hG4bK" + os.urandom(6).hex()
        u["sent"] = time.monotonic()
        ext = u["ext"]
        msg = (f"REGISTER sip:{domain} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {lhost}:{lport};branch={u['branch']};rport\r\n"
               f"Max-Forwards: 70\r\n"
               f"From: <sip:{ext}@{domain}>;tag={tag}{ext}\r\n"
               f"To: <sip:{ext}@{domain}>\r\n"
               f"Call-ID: {u['cid']}\r\n"
               f"CSeq: {u['cseq']} REGISTER\r\n"
               f"Contact: <sip:{ext}@{lhost}:{lport}>\r\n"
               f"Expires: {expires}\r\n{auth}"
               f"User-Agent: pbxd-bench sipreg\r\n"
               f"Content-Length: 0\r\n\r\n")
        u["msg"] = msg.encode()
        s.sendto(u["msg"], server)

    def start(ext):
        cid = f"reg-{ext}-{tag}"
        u = {"ext": ext, "cid": cid, "cseq": 0, "tries": 0, "authed": False}
        users[cid] = u
        send(u)

    while todo or users:
        while todo and len(users) < 32:
            start(todo.pop(0))
        try:
            data = s.recv(65535).decode(errors="replace")
        except socket.timeout:
            data = None
        now = time.monotonic()
        for u in list(users.values()):  # retransmit, give up after 8 s
            if now - u["sent"] > 0.5:
                u["tries"] += 1
                if u["tries"] > 16:
                    print(f"sipreg: {u['ext']}: no answer", file=sys.stderr)
                    failed += 1
                    del users[u["cid"]]
                else:
                    u["sent"] = now
                    s.sendto(u["msg"], server)
        if not data or not data.startswith("SIP/2.0 "):
            continue
        head = data.split("\r\n\r\n", 1)[0].split("\r\n")
        code = int(head[0].split()[1])
        hdrs = {}
        for line in head[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs.setdefault(k.strip().lower(), []).append(v.strip())
        cid = (hdrs.get("call-id") or hdrs.get("i") or [""])[0]
        u = users.get(cid)
        if u is None or code < 200:
            continue
        if code in (401, 407) and not u["authed"]:
            name = "www-authenticate" if code == 401 else "proxy-authenticate"
            ch = None
            for v in hdrs.get(name, []):
                p = challenge_params(v)
                if p.get("algorithm", "MD5").upper() == "MD5":
                    ch = p
                    break
            if ch is None:
                print(f"sipreg: {u['ext']}: no MD5 challenge", file=sys.stderr)
                failed += 1
                del users[cid]
                continue
            ext = str(u["ext"])
            uri = f"sip:{domain}"
            ha1 = md5(f"{ext}:{ch['realm']}:{prefix}{ext}")
            ha2 = md5(f"REGISTER:{uri}")
            cred = f'Digest username="{ext}", realm="{ch["realm"]}", nonce="{ch["nonce"]}", uri="{uri}", algorithm=MD5'
            if "auth" in [q.strip() for q in ch.get("qop", "").split(",")]:
                cnonce = os.urandom(8).hex()
                resp = md5(f"{ha1}:{ch['nonce']}:00000001:{cnonce}:auth:{ha2}")
                cred += f', qop=auth, nc=00000001, cnonce="{cnonce}"'
            else:
                resp = md5(f"{ha1}:{ch['nonce']}:{ha2}")
            cred += f', response="{resp}"'
            if "opaque" in ch:
                cred += f', opaque="{ch["opaque"]}"'
            u["authed"] = True
            u["tries"] = 0
            hname = "Authorization" if code == 401 else "Proxy-Authorization"
            send(u, f"{hname}: {cred}\r\n")
            continue
        if code == 200:
            ok += 1
        else:
            print(f"sipreg: {u['ext']}: {head[0]}", file=sys.stderr)
            failed += 1
        del users[cid]
    print(f"registered {ok} of {count} in {time.monotonic() - t0:.1f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv)
