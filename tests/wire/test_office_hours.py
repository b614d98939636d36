"""Office hours, holidays, time zones and feature codes in real calls (issue 13):
the tenant's office hours (extensions in mode "global"), the tenant's and a user's
own holidays, the tenant's time zone, and a tenant's own feature access codes, all
set through the REST API and seen from the phones.

Each test has a tenant of its own (its own domain, admin and extensions), so what
one test sets never reaches another. The rule that shows the status: extension Y
answers busy (486); its busy forward rings Z while available, and W (the
outside_office_hours rule set) while its office hours are closed or on a holiday.

No test depends on the minute it runs (the same idea as test_forwarding's
days_now): weeks open or closed on whole days around now, holidays from yesterday
to tomorrow, and for the zone a tenant whose local date is never the UTC date
during the test (UTC-12 before 11:00 UTC, UTC+14 from then: at least an hour from
either's midnight).

Features: OH-01 (tenant office hours), OH-03 (holidays), OH-04 (the tenant's time
zone), CALL-14 (feature codes configurable per tenant)."""

import datetime
import itertools
import time

import pytest

from callua import CallUA
from conftest import Pbxd
from test_calls import RTP_MAX, RTP_MIN

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALL_DAY = [{"start": "00:00", "end": "23:59"}]
_tenants = itertools.count(1)


@pytest.fixture(scope="module")
def pbxd(tmp_path_factory):
    p = Pbxd(tmp_path_factory.mktemp("oh"),
             args=[f"--rtp-ports={RTP_MIN}-{RTP_MAX}", "--auth-max-failures=1000"]).start()
    try:
        yield p
    finally:
        p.assert_clean_exit()


class Tenant:
    """A tenant of its own: its admin's API and extensions 201, 202... whose
    phones register in its domain."""

    def __init__(self, pbxd, timezone=None):
        self.p = pbxd
        n = next(_tenants)
        self.domain = f"oh{n}.example"
        body = {"name": f"OH{n}", "domain": self.domain,
                "admin": {"username": "ohadmin", "password": "Oh-Admin-1", "email": f"a@{self.domain}"}}
        if timezone is not None:
            body["timezone"] = timezone
        self.t = pbxd.sysadmin().ok("POST", "/tenants", body, status=201)
        self.api = pbxd.api("ohadmin", "Oh-Admin-1", domain=self.domain)
        self.numbers = itertools.count(201)
        self.ids, self.uas = {}, []

    def ext(self):
        ext = str(next(self.numbers))
        self.ids[ext] = self.api.create_user(ext, f"oh-Secret-{ext}", domain=self.domain)
        return ext

    def ua(self, ext):
        ua = CallUA(self.p.udp_port, ext, f"oh-Secret-{ext}", domain=self.domain)
        self.uas.append(ua)
        r = ua.register()
        assert r is not None and r.code == 200, f"{ext} did not register: {r}\n{ua.dump()}"
        return ua

    def dump(self):
        return "\n".join(ua.dump() for ua in self.uas) + "\n--- pbxd log:\n" + self.p.log_tail(60)

    def close(self):
        for ua in self.uas:
            ua.hang_up_all()
        for ua in self.uas:
            ua.close()


@pytest.fixture
def tenants(pbxd):
    made = []

    def make(timezone=None):
        t = Tenant(pbxd, timezone)
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()


def to(number):
    return {"action": "number", "number": number}


def status_call(t, rules_for=None):
    """Makes X call Y (who answers busy) with Y's busy forward to Z and its
    outside_office_hours busy forward to W; returns the phone that rang next
    ("available" for Z, "outside" for W). rules_for(y) may set more first."""
    x, y, z, w = (t.ext() for _ in range(4))
    a, b, c, d = t.ua(x), t.ua(y), t.ua(z), t.ua(w)
    t.api.ok("POST", f"/users/{t.ids[y]}/extension", {
        "forwarding": {"busy": to(z), "by_status": {"outside_office_hours": {"busy": to(w)}}}})
    if rules_for:
        rules_for(y)
    call = a.invite(y)
    inc = b.wait_invite()
    assert inc is not None, t.dump()
    inc.reject(486)
    which = None
    deadline = time.monotonic() + 5
    while which is None and time.monotonic() < deadline:
        if c.wait_invite(timeout=0.1) is not None:
            which = "available"
        elif d.wait_invite(timeout=0.1) is not None:
            which = "outside"
    assert which, t.dump()
    other = d if which == "available" else c
    assert other.wait_invite(timeout=0.3) is None, t.dump()
    call.cancel()
    return which


def utc_days(inside):
    """As test_forwarding.days_now: today and tomorrow (UTC), or every other day."""
    today = datetime.datetime.now(datetime.timezone.utc).weekday()
    near = {DAYS[today], DAYS[(today + 1) % 7]}
    return sorted(near) if inside else [d for d in DAYS if d not in near]


def week_open_on(days):
    return {d: (ALL_DAY if d in days else []) for d in DAYS}


@pytest.mark.parametrize("open_now", [True, False], ids=["open", "closed"])
def test_tenant_office_hours_global_mode(tenants, open_now):
    """OH-01: an extension in mode global follows the tenant's week: while it is
    closed the outside_office_hours rules apply, while open the normal ones."""
    t = tenants()
    t.api.ok("POST", "/tenant/office_hours", week_open_on(utc_days(open_now)))
    assert status_call(t) == ("available" if open_now else "outside")


def test_specific_mode_is_not_the_tenants(tenants):
    """OH-02: a user with their own week (open now) is not closed by the tenant's."""
    t = tenants()
    t.api.ok("POST", "/tenant/office_hours", week_open_on(utc_days(False)))

    def own_week(y):
        t.api.ok("POST", f"/users/{t.ids[y]}/office_hours",
                 {"mode": "specific", "week": week_open_on(utc_days(True))})
    assert status_call(t, own_week) == "available"


def around_today():
    now = datetime.datetime.now(datetime.timezone.utc).date()
    day = datetime.timedelta(days=1)
    return {"start_date": (now - day).isoformat(), "end_date": (now + day).isoformat()}


@pytest.mark.parametrize("owner", ["tenant", "user"])
def test_holiday_today(tenants, owner):
    """OH-03: a holiday running now (the tenant's, or the user's own) closes the
    office hours of an otherwise open week."""
    t = tenants()
    t.api.ok("POST", "/tenant/office_hours", week_open_on(DAYS))

    def holiday(y):
        path = "/holidays" if owner == "tenant" else f"/users/{t.ids[y]}/holidays"
        t.api.ok("POST", path, {"name": "Today", **around_today()}, status=201)
    assert status_call(t, holiday) == "outside"


def test_holiday_elsewhere_and_removed(tenants):
    """A holiday that is not now changes nothing; one removed stops applying."""
    t = tenants()
    made = {}

    def holidays(y):
        t.api.ok("POST", "/holidays", {"name": "Later", "start_date": "2099-01-01"}, status=201)
        made["h"] = t.api.ok("POST", f"/users/{t.ids[y]}/holidays", {"name": "Now", **around_today()}, status=201)
        t.api.ok("POST", f"/users/{t.ids[y]}/holidays/{made['h']['id']}/destroy", status=204)
    assert status_call(t, holidays) == "available"


def zone_off_utc_date():
    """A zone whose date differs from the UTC date for at least the next hour,
    and that local date."""
    now = datetime.datetime.now(datetime.timezone.utc)
    zone, offset = ("Etc/GMT+12", -12) if now.hour < 11 else ("Etc/GMT-14", 14)
    local = (now + datetime.timedelta(hours=offset)).date()
    assert local != now.date()
    return zone, local


@pytest.mark.parametrize("open_now", [True, False], ids=["open-there", "closed-there"])
def test_tenant_zone(tenants, open_now):
    """OH-04: office hours are evaluated on the tenant's wall clock: a week open
    only on the zone's today is open (UTC's weekday would be closed), and the
    opposite week closed."""
    zone, local = zone_off_utc_date()
    t = tenants(timezone=zone)
    today = DAYS[local.weekday()]
    days = [today] if open_now else [d for d in DAYS if d != today]
    t.api.ok("POST", "/tenant/office_hours", week_open_on(days))
    assert status_call(t) == ("available" if open_now else "outside")


def test_tenant_zone_holiday(tenants):
    """A holiday on the zone's today alone (not UTC's) applies."""
    zone, local = zone_off_utc_date()
    t = tenants(timezone=zone)

    def holiday(y):
        t.api.ok("POST", "/holidays", {"name": "There", "start_date": local.isoformat()}, status=201)
    assert status_call(t, holiday) == "outside"


def test_changed_feature_code(tenants):
    """CALL-14: a tenant's own code works, the default it replaced does not, and
    the codes of other tenants stay the defaults."""
    t = tenants()
    lst = t.api.ok("POST", "/feature_access_codes", {"dnd_on": "*11"})
    assert {c["feature"]: c["code"] for c in lst["items"]}["dnd_on"] == "*11"
    y = t.ext()
    b = t.ua(y)
    f = b.invite("*78").wait_final()
    assert f is not None and f.code == 404, t.dump()
    assert t.api.ok("GET", f"/users/{t.ids[y]}/extension")["dnd"] is False
    f = b.invite("*11").wait_final()
    assert f is not None and f.code == 480 and "dnd on" in f.start.lower(), t.dump()
    deadline = time.monotonic() + 3  # written through the storage worker
    while not t.api.ok("GET", f"/users/{t.ids[y]}/extension")["dnd"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert t.api.ok("GET", f"/users/{t.ids[y]}/extension")["dnd"] is True
    f = b.invite("*79").wait_final()  # a code left alone keeps working
    assert f is not None and f.code == 480 and "dnd off" in f.start.lower(), t.dump()
    # a code that takes a number, moved
    t.api.ok("POST", "/feature_access_codes", {"forward_all_on": "*4"})
    z = t.ext()
    f = b.invite(f"*4{z}").wait_final()
    assert f is not None and f.code == 480 and "forwarding on" in f.start.lower(), t.dump()
    assert b.invite(f"*72{z}").wait_final().code == 404
    # another tenant keeps the defaults
    o = tenants()
    ob = o.ua(o.ext())
    f = ob.invite("*78").wait_final()
    assert f is not None and f.code == 480 and "dnd on" in f.start.lower(), o.dump()
