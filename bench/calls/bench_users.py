"""bench/calls' and bench/media's helper for pbxd's REST API.

  bench_users.py create URL ADMIN_PW DOMAIN PREFIX MAXCALLS FIRST:COUNT...
      creates the tenant DOMAIN (if missing) and, for each FIRST:COUNT, the users
      with extensions FIRST .. FIRST+COUNT-1 and SIP password PREFIX + extension
      (through ../register_users.py, as an admin would), then sets every one's
      max_simultaneous_calls to MAXCALLS (POST /api/users/{id}/extension; the
      default, 2, would answer 486 once an extension is in two calls).
  bench_users.py calls URL ADMIN_PW DOMAIN [TOKEN_FILE]
      prints the number of the tenant's active calls (GET /api/call_sessions).
      With TOKEN_FILE, the tenant token kept there is used (and written there
      the first time): a sign-in verifies the admin password with Argon2id,
      whose 19 MiB buffer stays resident in the HTTP thread's malloc arena, so
      the memory run signs in once, before its baseline.
  bench_users.py cdrs URL ADMIN_PW DOMAIN N
      prints the status codes and end reasons of the N newest CDRs, counted.

Run with /usr/bin/python3 (Debian's python3-requests)."""
import collections
import os
import sys

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import register_users  # noqa: E402


def tenant_session(url, admin_pw, domain):
    s = requests.Session()
    r = s.post(url + "/auth/sign_in", json={"username": "admin", "password": admin_pw}, timeout=30)
    r.raise_for_status()
    auth = {"Authorization": "Bearer " + r.json()["token"]}
    r = s.get(url + "/tenants", headers=auth, timeout=30)
    r.raise_for_status()
    tid = [t["id"] for t in r.json()["items"] if t["domain"].lower() == domain.lower()][0]
    r = s.post(url + "/tenants/%s/switch" % tid, headers=auth, timeout=30)
    r.raise_for_status()
    s.headers["Authorization"] = "Bearer " + r.json()["token"]
    return s


def create(url, admin_pw, domain, prefix, maxcalls, ranges):
    wanted = set()
    for rg in ranges:
        first, count = (int(x) for x in rg.split(":"))
        register_users.api(url, admin_pw, domain, first, count, prefix, 4)
        wanted.update(str(e) for e in range(first, first + count))
    s = tenant_session(url, admin_pw, domain)
    ids, skip = {}, 0
    while True:
        r = s.get(url + "/users", params={"top": 100, "skip": skip}, timeout=30)
        r.raise_for_status()
        items = r.json()["items"]
        if not items:
            break
        for u in items:
            ids[u["extension_number"]] = u["id"]
        skip += len(items)
    missing = wanted - set(ids)
    if missing:
        sys.exit("users not listed: %s" % sorted(missing)[:5])
    for ext in sorted(wanted):
        r = s.post(url + "/users/%s/extension" % ids[ext], json={"max_simultaneous_calls": maxcalls}, timeout=30)
        if r.status_code != 200:
            sys.exit("extension %s settings: %d %s" % (ext, r.status_code, r.text))
    print("max_simultaneous_calls %d on %d extensions" % (maxcalls, len(wanted)))


def calls(url, admin_pw, domain, token_file=None):
    if token_file and os.path.exists(token_file):
        s = requests.Session()
        with open(token_file) as f:
            s.headers["Authorization"] = "Bearer " + f.read().strip()
    else:
        s = tenant_session(url, admin_pw, domain)
        if token_file:
            with open(token_file, "w") as f:
                f.write(s.headers["Authorization"].split(" ", 1)[1])
    r = s.get(url + "/call_sessions", timeout=30)
    r.raise_for_status()
    print(r.json()["count"])


def cdrs(url, admin_pw, domain, n):
    s = tenant_session(url, admin_pw, domain)
    seen, skip = collections.Counter(), 0
    while skip < n:
        r = s.get(url + "/cdrs", params={"top": min(100, n - skip), "skip": skip}, timeout=30)
        r.raise_for_status()
        items = r.json()["items"]
        if not items:
            break
        for c in items:
            seen[(c.get("status_code"), c.get("end_reason"))] += 1
        skip += len(items)
    for (code, reason), k in seen.most_common():
        print("%6d  status %s  %s" % (k, code, reason))


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__)
    cmd, url, pw, domain = argv[1:5]
    if cmd == "create":
        create(url, pw, domain, argv[5], int(argv[6]), argv[7:])
    elif cmd == "calls":
        calls(url, pw, domain, argv[5] if len(argv) > 5 else None)
    elif cmd == "cdrs":
        cdrs(url, pw, domain, int(argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
