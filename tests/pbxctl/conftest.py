"""End-to-end fixtures for pbxctl: a real pbxd on loopback and a way to run pbxctl
against it (see pbxctl_env.py).

These tests bind ports and start servers, so they only run inside a private
network namespace (nothing they do can reach or disturb the host's network):

    tools/netns-run /usr/bin/python3 -m pytest tests/pbxctl

PBXD_BIN and PBXCTL_BIN name the binaries (default build/pbxd, and the pbxctl of
PBXD_BIN's build).
"""
import pytest

from .pbxctl_env import Ctl, Pbxd, interfaces, unique


def pytest_configure(config):
    if interfaces() != ["lo"]:
        raise pytest.UsageError(
            "tests/pbxctl must run in a private network namespace, e.g.\n"
            "  tools/netns-run /usr/bin/python3 -m pytest tests/pbxctl")


@pytest.fixture(scope="module")
def pbxd(tmp_path_factory):
    """One pbxd per test module: modules that sign in with wrong passwords on
    purpose get their own, so the login rate limit never leaks across them."""
    d = Pbxd(tmp_path_factory.mktemp("pbxd"))
    yield d
    d.stop()


@pytest.fixture(scope="module")
def admin(pbxd):
    return Ctl(pbxd.url, "admin", pbxd.admin_password)


@pytest.fixture
def tenant(admin):
    """A fresh tenant and a Ctl signed in as its first tenant admin."""
    name = unique("t")
    domain = name + ".example.test"
    t = admin.json("tenant", "add", "--name=" + name, "--domain=" + domain,
                   "--admin-username=boss", "--admin-password=Boss-pass-1")
    yield t, admin.as_("boss", "Boss-pass-1", domain)
    admin.run("tenant", "delete", str(t["id"]))
