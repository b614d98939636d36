"""A minimal SIP REGISTER client with MD5 digest (qop=auth) over UDP, so that API
tests can put a device behind an extension and make failed authentications."""
import hashlib
import re
import secrets
import socket


def _send(sock, port, text):
    sock.sendto(text.encode(), ("127.0.0.1", port))
    data = sock.recv(65535).decode(errors="replace")
    return int(data.split(" ", 2)[1]), data


def register(port, ext, password, domain="pbx.local", expires=3600, source="127.0.0.1", user_agent="api-tests/1"):
    """Registers ext@domain from source; returns the final status code (200 when
    registered, 403 for wrong credentials)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.settimeout(3)
    lp = s.getsockname()[1]
    callid = secrets.token_hex(8)
    try:
        def req(cseq, auth=""):
            return (f"REGISTER sip:{domain} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP {source}:{lp};branch=z9hG4bK{secrets.token_hex(8)}\r\n"
                    f"Max-Forwards: 70\r\nFrom: <sip:{ext}@{domain}>;tag={secrets.token_hex(4)}\r\n"
                    f"To: <sip:{ext}@{domain}>\r\nCall-ID: {callid}\r\nCSeq: {cseq} REGISTER\r\n"
                    f"Contact: <sip:{ext}@{source}:{lp}>\r\nExpires: {expires}\r\nUser-Agent: {user_agent}\r\n"
                    f"{auth}Content-Length: 0\r\n\r\n")
        code, resp = _send(s, port, req(1))
        if code != 401:
            return code
        ch = re.search(r"WWW-Authenticate: Digest (.*)", resp, re.I).group(1)
        realm = re.search(r'realm="([^"]*)"', ch).group(1)
        nonce = re.search(r'nonce="([^"]*)"', ch).group(1)
        ha1 = hashlib.md5(f"{ext}:{realm}:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"REGISTER:sip:{domain}".encode()).hexdigest()
        cnonce, nc = secrets.token_hex(4), "00000001"
        rsp = hashlib.md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        auth = (f'Authorization: Digest username="{ext}",realm="{realm}",nonce="{nonce}",uri="sip:{domain}",'
                f'response="{rsp}",algorithm=MD5,qop=auth,nc={nc},cnonce="{cnonce}"\r\n')
        return _send(s, port, req(2, auth))[0]
    finally:
        s.close()
