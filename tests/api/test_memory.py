"""Memory a running pbxd keeps: signing in (Argon2id, 19 MiB of working memory per
check) must not leave that memory with each HTTP thread that ever checked a
password (found by bench/calls: 34 -> 54 -> 73 -> 93 MB over 12 sign-ins)."""

import pytest


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def sanitized(pid):
    """Whether pbxd runs with ASan, whose allocator keeps freed memory in its
    quarantine (what this test measures is glibc's malloc)."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def test_sign_ins_do_not_keep_argon2_memory(pbxd):
    if sanitized(pbxd.proc.pid):
        pytest.skip("an ASan build: its allocator holds freed memory in quarantine")
    admin = pbxd.admin()  # one sign-in first: pbxd's baseline includes what one costs
    before = rss_kib(pbxd.proc.pid)
    for _ in range(12):  # spread over the HTTP server's threads
        pbxd.admin()
    grown = rss_kib(pbxd.proc.pid) - before
    assert grown < 16 * 1024, f"VmRSS grew {grown} KiB over 12 sign-ins"
    assert admin.get("/api/tenants").status_code == 200
