"""The torture messages of RFC 4475 and RFC 5118, each sent byte for byte as one UDP
datagram to a running pbxd, the answer compared with the shared manifests
(../shared/testdata/sip-torture/manifest-*.tsv). Afterwards pbxd must still answer
a plain OPTIONS: no message may have crashed or wedged it.

How a manifest line becomes an assertion:
  - the message is a response (start line "SIP/..."), or the behaviour says "drop":
    nothing may come back within NO_ANSWER_WAIT;
  - "... or drop" (test.dat): nothing, or a 400;
  - "400 ... or ..." / "... or 400" / class INVALID(may-accept): any final response
    (pbxd may reject it or accept it liberally, but it must answer);
  - a leading status code ("400", "505", "420 + Unsupported", "401 challenge with
    Digest"...): exactly that code, with the named header where there is one;
  - "parse ...": a final response that is not 400 (pbxd answers an INVITE for an
    unknown user with 404, a REGISTER with 401, and so on: any code but 400).
"""

import csv
import re

import pytest

from conftest import TORTURE, make_options, sip_udp_exchange, sip_udp_request

ANSWER_WAIT = 3.0     # bound on waiting for an expected final response
NO_ANSWER_WAIT = 1.0  # how long "no response" is watched for


def _manifest():
    entries = {}
    for name in ("rfc4475", "rfc5118"):
        path = TORTURE / f"manifest-{name}.tsv"
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                entries[f"{name}/{row['file']}"] = row
    return entries


def _files():
    files = sorted((TORTURE / "rfc4475").glob("*.dat")) + sorted(
        p for p in (TORTURE / "rfc5118").iterdir() if p.is_file())
    return [f"{p.parent.name}/{p.name}" for p in files]


MANIFEST = _manifest() if TORTURE.is_dir() else {}
FILES = _files() if TORTURE.is_dir() else []


class Expect:
    NONE = "no response"
    NONE_OR_400 = "no response, or 400"
    ANY_FINAL = "any final response (400 or liberal accept)"
    NOT_400 = "a final response other than 400"
    EXACT = "exactly"

    def __init__(self, kind, code=None, headers=(), digest=False):
        self.kind, self.code, self.headers, self.digest = kind, code, tuple(headers), digest

    def __str__(self):
        if self.kind == Expect.EXACT:
            extra = "".join(f" + {h}" for h in self.headers)
            return f"{self.code}{extra}{' (Digest challenge)' if self.digest else ''}"
        return self.kind


def expectation(data, row):
    """What pbxd must do with message `data` given its manifest `row`."""
    b = row["expected_server_behaviour"].strip()
    cls = row["class"].strip()
    if data.startswith(b"SIP/") or b.lower().startswith("drop"):
        return Expect(Expect.NONE)
    if re.search(r"\bor drop\b", b):
        return Expect(Expect.NONE_OR_400)
    if "may-accept" in cls or (re.search(r"\b400\b", b) and re.search(r"\bor\b", b)):
        return Expect(Expect.ANY_FINAL)
    m = re.match(r"(\d{3})\b", b)
    if m:
        return Expect(Expect.EXACT, int(m.group(1)),
                      headers=re.findall(r"\+\s*([A-Za-z][A-Za-z-]*)", b),
                      digest="digest" in b.lower())
    if b.lower().startswith("parse"):
        return Expect(Expect.NOT_400)
    raise AssertionError(f"manifest behaviour not understood: {b!r}")


@pytest.mark.skipif(not TORTURE.is_dir(), reason=f"no torture messages in {TORTURE}")
@pytest.mark.parametrize("name", FILES)
def test_torture_message(pbxd, name):
    assert name in MANIFEST, f"{name} has no line in the manifests"
    row = MANIFEST[name]
    data = (TORTURE / name).read_bytes()
    exp = expectation(data, row)
    wait = NO_ANSWER_WAIT if exp.kind in (Expect.NONE, Expect.NONE_OR_400) else ANSWER_WAIT

    code, resp = sip_udp_exchange(pbxd.udp_port, data, timeout=wait)

    assert pbxd.proc.poll() is None, (
        f"pbxd died on {name} (exit {pbxd.proc.returncode}):\n{pbxd.log_tail(60)}")
    what = (f"{name} ({row['section']}, {row['class']}: {row['expected_server_behaviour']}): "
            f"expected {exp}, got {code if code is not None else 'no response'}")
    if exp.kind == Expect.NONE:
        assert code is None, what
    elif exp.kind == Expect.NONE_OR_400:
        assert code in (None, 400), what
    elif exp.kind == Expect.ANY_FINAL:
        assert code is not None, what
    elif exp.kind == Expect.NOT_400:
        assert code is not None and code != 400, what
    else:
        assert code == exp.code, what
        for h in exp.headers:
            assert resp.get(h) is not None, f"{what}, but the {code} has no {h} header:\n{resp}"
        if exp.digest:
            auth = resp.get("www-authenticate") or ""
            assert auth.lower().startswith("digest"), (
                f"{what}, but WWW-Authenticate is {auth!r}:\n{resp}")


def test_still_answers_options_after_torture(pbxd):
    """Runs after every torture message (same module-scoped pbxd)."""
    assert pbxd.proc.poll() is None, f"pbxd died:\n{pbxd.log_tail(60)}"
    code = sip_udp_request(pbxd.udp_port, make_options(pbxd.udp_port), timeout=ANSWER_WAIT)
    assert code == 200


def test_manifest_covers_every_file():
    """Every torture file has a manifest line and every manifest line a file."""
    assert FILES, f"no torture files found under {TORTURE}"
    assert sorted(MANIFEST) == sorted(FILES)
