"""The bridge's link to the hub broker is private: TLS with a CA of the user's own (and client
certificates), user name and password; and a wrong password or certificate is told plainly,
while the bridge keeps retrying until the hub lets it in."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from services.broker import PrivateBroker
from services.messages import ServiceError, SetMute
from test_bridge_support import BASE, HubClient, start_bridge

pytestmark = pytest.mark.slow

USER, PASSWORD = "samantha", "correct horse battery staple"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A test CA, a broker certificate for 127.0.0.1/localhost, a client certificate, and a
    second CA that signed nothing the broker uses."""
    folder = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=Samantha test {ca}",
                "-keyout", f"{ca}.key", "-out", f"{ca}.crt", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn in (("server", "localhost"), ("client", "samantha-testnode")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", cwd=folder)
        extra = ["-extfile", "san.ext"] if name == "server" else []
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-out", f"{name}.crt", *extra, cwd=folder)
    # A broker certificate made out to another host (no SAN for 127.0.0.1): only tls_insecure accepts it.
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=hub.elsewhere", "-keyout", "elsewhere.key",
            "-out", "elsewhere.csr", cwd=folder)
    openssl("x509", "-req", "-in", "elsewhere.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-out", "elsewhere.crt", cwd=folder)
    for path in folder.iterdir():
        path.chmod(0o644)  # mosquitto may run as its own user
    return folder


class HubBroker(PrivateBroker):
    """Mosquitto with TLS and/or a password file, as a hub broker in a home would run."""

    def __init__(self, lines: list[str], port: int = 0) -> None:
        super().__init__(port=port)
        self.lines = lines

    def config(self) -> str:
        lines = ["per_listener_settings false", "persistence false", "log_dest stderr", "log_type error",
                 f"listener {self.port} 127.0.0.1", *self.lines]
        if os.geteuid() == 0:
            lines.append("user root")
        return "\n".join(lines) + "\n"


def tls_lines(pki: Path, require_certificate: bool = False) -> list[str]:
    return ["allow_anonymous true", f"cafile {pki / 'ca.crt'}", f"certfile {pki / 'server.crt'}",
            f"keyfile {pki / 'server.key'}", f"require_certificate {'true' if require_certificate else 'false'}"]


def tls_client(port: int, pki: Path, certificate: bool = False) -> HubClient:
    """A client on the TLS hub broker (with the client certificate where the broker asks for one)."""
    tls = {"ca_certs": str(pki / "ca.crt")}
    if certificate:
        tls |= {"certfile": str(pki / "client.crt"), "keyfile": str(pki / "client.key")}
    return HubClient(port, tls=tls)


def test_tls_with_a_test_ca(broker, probe, pki, tmp_path):
    with HubBroker(tls_lines(pki)) as hub:
        client = tls_client(hub.port, pki)
        bridge = start_bridge(broker, hub.port, tmp_path, client, probe, tls=True, ca_file=str(pki / "ca.crt"))
        try:
            client.publish(f"{BASE}/mute/set", "ON")
            assert probe.wait_for(SetMute) == SetMute(muted=True)
            assert "with TLS" in bridge.log()
        finally:
            bridge.stop()
            client.close()


def test_tls_with_a_client_certificate(broker, probe, pki, tmp_path):
    with HubBroker(tls_lines(pki, require_certificate=True)) as hub:
        client = tls_client(hub.port, pki, certificate=True)
        bridge = start_bridge(broker, hub.port, tmp_path, client, probe, tls=True, ca_file=str(pki / "ca.crt"),
                              cert_file=str(pki / "client.crt"), key_file=str(pki / "client.key"))
        try:
            client.publish(f"{BASE}/volume/set", "30")
            assert probe.wait_for(lambda m: type(m).__name__ == "SetVolume").volume == 30
        finally:
            bridge.stop()
            client.close()


def test_a_broker_certificate_from_another_ca_is_refused_plainly(broker, probe, pki, tmp_path):
    with HubBroker(tls_lines(pki)) as hub:
        bridge = start_bridge(broker, hub.port, tmp_path, tls=True, ca_file=str(pki / "other-ca.crt"))
        try:
            error = probe.wait_for(ServiceError, timeout=15)
            assert error.service == "bridge" and "certificate" in error.message
            assert bridge.alive()
        finally:
            bridge.stop()


def test_a_certificate_for_another_host_needs_tls_insecure(broker, probe, pki, tmp_path):
    lines = ["allow_anonymous true", f"certfile {pki / 'elsewhere.crt'}", f"keyfile {pki / 'elsewhere.key'}"]
    with HubBroker(lines) as hub:
        (tmp_path / "strict").mkdir()
        strict = start_bridge(broker, hub.port, tmp_path / "strict", tls=True, ca_file=str(pki / "ca.crt"))
        try:
            error = probe.wait_for(ServiceError, timeout=15)
            assert "not made out to 127.0.0.1" in error.message and "tls_insecure" in error.message
        finally:
            strict.stop()
        client = HubClient(hub.port, tls={"ca_certs": str(pki / "ca.crt")}, insecure=True)
        relaxed = start_bridge(broker, hub.port, tmp_path, client, probe, tls=True, ca_file=str(pki / "ca.crt"),
                               tls_insecure=True)
        try:
            client.publish(f"{BASE}/mute/set", "ON")
            assert probe.wait_for(SetMute) == SetMute(muted=True)
        finally:
            relaxed.stop()
            client.close()


def test_wrong_password_is_told_plainly_and_retried_until_the_hub_accepts(broker, probe, tmp_path):
    password_file = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(password_file), USER, "something else"], check=True,
                   capture_output=True)
    password_file.chmod(0o644)
    with HubBroker(["allow_anonymous false", f"password_file {password_file}"]) as hub:
        bridge = start_bridge(broker, hub.port, tmp_path, username=USER, password=PASSWORD)
        try:
            error = probe.wait_for(ServiceError, timeout=15)
            assert error.service == "bridge"
            assert "refused the user name or password" in error.message
            assert PASSWORD not in bridge.log()  # never logged, not even when refused
            assert bridge.alive()

            # The user fixes the password on the hub; the bridge gets in by itself (backoff <= 5 s).
            subprocess.run(["mosquitto_passwd", "-b", str(password_file), USER, PASSWORD], check=True,
                           capture_output=True)
            hub.process.send_signal(signal.SIGHUP)  # mosquitto rereads its password file
            watcher = HubClient(hub.port, username=USER, password=PASSWORD)
            try:
                deadline = time.monotonic() + 15
                while watcher.read_retained(f"{BASE}/availability", timeout=1) != b"online":
                    assert time.monotonic() < deadline, f"the bridge did not get in; log:\n{bridge.log()}"
                watcher.publish(f"{BASE}/mute/set", "OFF")
                assert probe.wait_for(SetMute) == SetMute(muted=False)
            finally:
                watcher.close()
            assert bridge.log().count("refused the user name or password") == 1  # said once, not per retry
        finally:
            bridge.stop()


def test_a_missing_certificate_file_is_a_settings_error(broker, tmp_path):
    process = start_bridge(broker, 1, tmp_path, tls=True, ca_file=str(tmp_path / "missing-ca.crt"))
    assert process.process.wait(15) == 2  # bad settings: the supervisor and systemd say so, no retry loop
    assert "bridge.ca_file" in process.log() and "no such file" in process.log()


def test_the_password_never_shows_in_the_settings_repr():
    from services.bridge.settings import BridgeSettings
    from services.settings import Settings

    settings = Settings(bridge=BridgeSettings(enabled=True, host="hub", password=PASSWORD))
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.bridge)
    assert "password=***" in repr(settings.bridge)
