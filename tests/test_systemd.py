"""The systemd units: they parse cleanly, are hardened, and the services speak the notify protocol."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.install import UNITS_DIR, main as install_main

needs_systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                           reason="systemd-analyze is not installed")


@pytest.fixture(scope="module")
def installed_units(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("root")
    assert install_main(["--root", str(root)]) == 0
    units = sorted((root / "etc/systemd/system").glob("samantha*"))
    assert {u.name for u in units} >= {
        "samantha.target", "samantha-bus.service", "samantha-voice.service", "samantha-listener.service",
        "samantha-dialogue.service", "samantha-panel.service", "samantha-bridge.service"}
    return units


@needs_systemd_analyze
def test_units_verify_without_any_complaint(installed_units):
    for unit in installed_units:
        result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
        # verify exits 0 even on parse errors; anything on stderr is a problem.
        assert result.returncode == 0 and result.stderr.strip() == "", f"{unit.name}: {result.stderr}"


@needs_systemd_analyze
def test_services_are_hardened(installed_units):
    for unit in installed_units:
        if unit.suffix != ".service":
            continue
        result = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                                capture_output=True, text=True)
        score = float(re.search(r"exposure level for .*: ([0-9.]+)", result.stdout).group(1))
        assert score <= 3.0, f"{unit.name} exposure {score}"


def test_service_units_are_notify_with_watchdog_and_dedicated_user():
    for unit in UNITS_DIR.glob("samantha-*.service"):
        text = unit.read_text()
        assert "Type=notify" in text and "Restart=on-failure" in text and "User=samantha" in text
        if unit.name != "samantha-bus.service":
            assert "WatchdogSec=" in text


def test_every_service_unit_is_part_of_the_target():
    target = (UNITS_DIR / "samantha.target").read_text()
    for unit in UNITS_DIR.glob("samantha-*.service"):
        assert unit.name in target


def test_a_service_reports_ready_and_feeds_the_watchdog(tmp_path, broker):
    """The voice service, started as systemd would, sends READY=1 then WATCHDOG=1 on NOTIFY_SOCKET."""
    notify_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    sock.settimeout(60)
    config = tmp_path / "config.toml"
    config.write_text(f'[audio]\noutput = "null"\n[general]\nstate_dir = "{tmp_path}"\n')
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": "1000000",
           "SAMANTHA_CONFIG": str(config),
           "SAMANTHA_OVERRIDES": f'{{"bus": {{"port": {broker.port}}}}}'}
    process = subprocess.Popen([sys.executable, "-m", "services.voice"], env=env)
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while "WATCHDOG=1" not in seen and time.monotonic() < deadline:
            seen += sock.recv(4096).decode().splitlines()
        assert "READY=1" in seen
        assert seen.index("READY=1") < seen.index("WATCHDOG=1")
        process.terminate()
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()
        sock.close()
