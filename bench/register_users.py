"""bench/register's helper: gives a running pbxd the tenant and extensions that
reggen registers (extension N has the SIP password PREFIX + N), and writes the
same table for Kamailio.

  register_users.py api URL ADMIN_PW DOMAIN FIRST COUNT PREFIX [THREADS]
      creates the tenant (if missing) and COUNT users through the REST API, as
      an admin would. Every user costs an Argon2 hash of its login password, which
      pbxd runs at most 2 at a time, so THREADS (default 2) is also the useful
      maximum. Prints "created N users in S s".
  register_users.py clone DBFILE DOMAIN FIRST COUNT PREFIX
      the cheap path for thousands of users, on a stopped pbxd's SQLite file:
      copies the row of user FIRST (created through the API, so every column,
      the Argon2 hash of its login password included, is what pbxd writes) for
      FIRST+1 .. FIRST+COUNT-1 that do not exist yet, with their own id,
      username, email, extension and SIP password. Column names come from the
      table itself.
  register_users.py dbtext DIR DOMAIN FIRST COUNT PREFIX
  register_users.py sqlite FILE DOMAIN FIRST COUNT PREFIX
      Kamailio's subscriber table (with its version table) for db_text / db_sqlite.

Run with /usr/bin/python3 (Debian's python3-requests)."""
import sys
import threading
import time


def api(url, admin_pw, domain, first, count, prefix, threads=2):
    import requests

    s = requests.Session()
    r = s.post(url + "/auth/sign_in", json={"username": "admin", "password": admin_pw}, timeout=30)
    r.raise_for_status()
    auth = {"Authorization": "Bearer " + r.json()["token"]}
    tid = None
    r = s.get(url + "/tenants", headers=auth, params={"filter": "domain eq '%s'" % domain}, timeout=30)
    r.raise_for_status()
    body = r.json()
    items = body.get("items", body.get("data", [])) if isinstance(body, dict) else body
    for t in items:
        if t.get("domain", "").lower() == domain.lower():
            tid = t["id"]
    if tid is None:
        r = s.post(url + "/tenants", headers=auth, timeout=60, json={
            "name": "Bench", "domain": domain, "limits": {"max_users": 0},
            "admin": {"username": "benchadmin", "password": "Bench-admin-1",
                      "email": "benchadmin@" + domain}})
        if r.status_code != 201:
            sys.exit("tenant: %d %s" % (r.status_code, r.text))
        tid = r.json()["id"]
    r = s.post(url + "/tenants/%s/switch" % tid, headers=auth, timeout=30)
    r.raise_for_status()
    tauth = {"Authorization": "Bearer " + r.json()["token"]}

    todo = list(range(first, first + count))
    lock = threading.Lock()
    errors = []

    def worker():
        ws = requests.Session()
        while True:
            with lock:
                if not todo or errors:
                    return
                ext = todo.pop(0)
            body = {"username": "u%d" % ext, "password": "Login-pw-%d" % ext,
                    "email": "u%d@%s" % (ext, domain), "extension_number": str(ext),
                    "extension_password": "%s%d" % (prefix, ext)}
            for _ in range(100):
                r = ws.post(url + "/users", headers=tauth, json=body, timeout=60)
                if r.status_code != 503:
                    break
                time.sleep(float(r.headers.get("Retry-After", "1")) / 10)
            if r.status_code == 409 and "extension_number" in r.text:
                continue  # already there (a rerun on the same data dir)
            if r.status_code != 201:
                with lock:
                    errors.append("user %d: %d %s" % (ext, r.status_code, r.text))
                return

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        sys.exit(errors[0])
    print("created %d users in %.1f s" % (count, time.monotonic() - t0))


def clone(dbfile, domain, first, count, prefix):
    import sqlite3

    db = sqlite3.connect(dbfile)
    cols = [r[1] for r in db.execute("PRAGMA table_info(users)")]
    tmpl = db.execute("SELECT * FROM users WHERE ext_number = ?", (str(first),)).fetchone()
    if tmpl is None:
        sys.exit("clone: no user with extension %d to copy" % first)
    row = dict(zip(cols, tmpl))
    base = db.execute("SELECT max(id) FROM users").fetchone()[0]
    rows = []
    for i in range(1, count):
        ext = first + i
        r = dict(row)
        r.update(id=base + i, username="u%d" % ext, email="u%d@%s" % (ext, domain),
                 ext_number=str(ext), ext_password="%s%d" % (prefix, ext))
        rows.append(tuple(r[c] for c in cols))
    t0 = time.monotonic()
    before = db.execute("SELECT count(*) FROM users").fetchone()[0]
    with db:  # the extensions that exist already (made through the API) are kept
        db.executemany("INSERT OR IGNORE INTO users (%s) VALUES (%s)"
                       % (",".join(cols), ",".join("?" * len(cols))), rows)
    added = db.execute("SELECT count(*) FROM users").fetchone()[0] - before
    db.close()
    print("copied %d users in %.1f s" % (added, time.monotonic() - t0))


def dbtext(d, domain, first, count, prefix):
    with open(d + "/version", "w") as f:
        f.write("id(int,auto) table_name(string) table_version(int) \n0:version:1\n0:subscriber:7\n")
    with open(d + "/subscriber", "w") as f:
        f.write("id(int,auto) username(string) domain(string) password(string) "
                "ha1(string,null) ha1b(string,null) \n")
        for i in range(count):
            f.write("%d:%d:%s:%s%d::\n" % (i + 1, first + i, domain, prefix, first + i))


def sqlite(path, domain, first, count, prefix):
    import sqlite3

    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE version (id INTEGER PRIMARY KEY NOT NULL, table_name VARCHAR(32) NOT NULL,"
                   " table_version INTEGER DEFAULT 0 NOT NULL, CONSTRAINT version_t_name_idx"
                   " UNIQUE (table_name))")
        db.execute("CREATE TABLE subscriber (id INTEGER PRIMARY KEY NOT NULL,"
                   " username VARCHAR(64) DEFAULT '' NOT NULL, domain VARCHAR(64) DEFAULT '' NOT NULL,"
                   " password VARCHAR(64) DEFAULT '' NOT NULL, ha1 VARCHAR(128) DEFAULT '' NOT NULL,"
                   " ha1b VARCHAR(128) DEFAULT '' NOT NULL,"
                   " CONSTRAINT subscriber_account_idx UNIQUE (username, domain))")
        db.execute("CREATE INDEX subscriber_username_idx ON subscriber (username)")
        db.execute("INSERT INTO version (table_name, table_version) VALUES ('subscriber', 7)")
        db.executemany("INSERT INTO subscriber (username, domain, password) VALUES (?, ?, ?)",
                       [(str(first + i), domain, "%s%d" % (prefix, first + i)) for i in range(count)])
    db.close()


def main(argv):
    if len(argv) < 7:
        sys.exit(__doc__)
    cmd, a, b = argv[1], argv[2], argv[3]
    if cmd == "api":
        first, count, prefix = int(argv[5]), int(argv[6]), argv[7]
        threads = int(argv[8]) if len(argv) > 8 else 2
        api(a, b, argv[4], first, count, prefix, threads)
        return
    first, count, prefix = int(argv[4]), int(argv[5]), argv[6]
    {"clone": clone, "dbtext": dbtext, "sqlite": sqlite}[cmd](a, b, first, count, prefix)


if __name__ == "__main__":
    main(sys.argv)
