"""pbxd's command line: --help, unknown options, the INI config file and its
precedence under the command line, and a clean exit on SIGINT/SIGTERM."""

import signal
import socket
import subprocess

import pytest

from conftest import Pbxd, free_port, make_options, pbxd_bin, sip_udp_request

OPTIONS = ["--data-dir", "--config", "--sip-address", "--sip-udp-port", "--sip-tcp-port", "--sip-tls-port",
           "--sip-wss-port", "--sip-ws-port", "--sip-tls-cert", "--sip-tls-key",
           "--log-level", "--sip-trace"]


def _run(args, cwd):
    return subprocess.run([pbxd_bin(), *args], cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, errors="replace", timeout=20)


def test_help_lists_options(tmp_path):
    p = _run(["--help"], tmp_path)
    assert p.returncode == 0, p.stderr
    for opt in OPTIONS:
        assert opt in p.stdout, f"--help does not list {opt}:\n{p.stdout}"


def test_unknown_option_fails(tmp_path):
    p = _run(["--no-such-option=1", f"--data-dir={tmp_path / 'data'}"], tmp_path)
    assert p.returncode != 0
    out = p.stderr + p.stdout
    assert "no-such-option" in out, f"no message naming the bad option: {out!r}"


def _config_pbxd(tmp_path, ini, extra=()):
    """A pbxd whose SIP UDP port comes from `ini` (or `extra`); the TCP port and the
    address are on the command line."""
    cfg = tmp_path / "pbxd.ini"
    cfg.write_text(ini)
    tcp = free_port(socket.SOCK_STREAM)
    return Pbxd(tmp_path, udp_port=0, tcp_port=tcp, ports_in_args=False,
                args=[f"--config={cfg}", "--sip-address=127.0.0.1", f"--sip-tcp-port={tcp}",
                      "--log-level=debug", *extra])


@pytest.mark.parametrize("style", ["flat", "section"])
def test_config_file_is_read(tmp_path, style):
    port = free_port(socket.SOCK_DGRAM)
    ini = (f"sip-udp-port = {port}\n" if style == "flat"
           else f"# pbxd test config\n[sip]\nudp-port = {port}\n")
    p = _config_pbxd(tmp_path, ini)
    p.udp_port = port
    p.start()  # waits for a 200 to OPTIONS on `port`
    p.assert_clean_exit()


def test_command_line_overrides_config(tmp_path):
    on_cli = free_port(socket.SOCK_DGRAM)
    in_file = free_port(socket.SOCK_DGRAM, avoid=(on_cli,))
    p = _config_pbxd(tmp_path, f"[sip]\nudp-port = {in_file}\n",
                     extra=[f"--sip-udp-port={on_cli}"])
    p.udp_port = on_cli
    p.start()  # answers on the command line's port...
    try:
        # ...and not on the file's.
        assert sip_udp_request(in_file, make_options(in_file), timeout=1.0) is None
    finally:
        p.assert_clean_exit()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_exits_cleanly(tmp_path, sig):
    p = Pbxd(tmp_path).start()
    p.assert_clean_exit(sig)  # bounded wait, exit status 0, no sanitizer report


def test_data_dir_private_whatever_the_umask(tmp_path):
    """The data dir (created with its parents) and everything in it, the database
    with SIP passwords included, is readable by pbxd's user only."""
    import os
    import stat
    old = os.umask(0o022)
    try:
        p = Pbxd(tmp_path / "w").start()
    finally:
        os.umask(old)
    try:
        files = [p.datadir] + list(p.datadir.rglob("*"))
        assert any(f.name == "pbxd.db" for f in files), files
        for f in files:
            mode = stat.S_IMODE(f.stat().st_mode)
            assert mode & 0o077 == 0, f"{f} is {oct(mode)}"
    finally:
        p.assert_clean_exit()
