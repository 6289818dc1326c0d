"""Settings: the defaults run, and a bad file stops a service with exit 2 and one clear line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.config import ConfigError
from services.settings import load_settings, settings_from_dict, settings_reference


def test_defaults_need_no_file(tmp_path, monkeypatch):
    monkeypatch.delenv("SAMANTHA_CONFIG", raising=False)
    monkeypatch.delenv("SAMANTHA_OVERRIDES", raising=False)
    settings = settings_from_dict({})
    assert settings.listener.wake_words == ["hey_jarvis"]
    assert 0 <= settings.voice.volume <= 100


@pytest.mark.parametrize(
    "toml, expected",
    [
        ("[voice]\nvolume = 150\n", "voice.volume = 150: must be at most 100"),
        ("[voice]\nvolume = 'loud'\n", "voice.volume = 'loud': must be a whole number"),
        ("[voice]\nvolumes = 50\n", "voice.volumes: unknown key"),
        ("[speaker]\nvolume = 50\n", "[speaker]: unknown section"),
        ("[listener]\nstt = 'google'\n", "listener.stt = 'google': must be one of 'auto', 'whisper', 'vosk'"),
        ("[bus]\nport = 70000\n", "bus.port = 70000: must be a TCP port"),
        ("[voice\nvolume = 1\n", "not valid TOML"),
    ],
)
def test_bad_settings_name_the_key_and_what_is_allowed(tmp_path, toml, expected):
    config = tmp_path / "config.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert expected in str(caught.value)
    assert str(config) in str(caught.value)


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such settings file"):
        load_settings(tmp_path / "nope.toml")


def test_overrides_are_laid_over_the_file(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("[bus]\nport = 2000\nhost = '127.0.0.1'\n")
    monkeypatch.setenv("SAMANTHA_OVERRIDES", '{"bus": {"port": 3000}}')
    settings = load_settings(config)
    assert settings.bus.port == 3000 and settings.bus.host == "127.0.0.1"


@pytest.mark.parametrize("service", ["voice", "listener", "dialogue", "panel", "bridge"])
def test_a_service_with_bad_settings_exits_2_with_one_clear_message(tmp_path, service):
    config = tmp_path / "config.toml"
    config.write_text("[voice]\nvolume = -3\n")
    env = {**os.environ, "SAMANTHA_CONFIG": str(config)}
    env.pop("SAMANTHA_OVERRIDES", None)
    result = subprocess.run([sys.executable, "-m", f"services.{service}"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "voice.volume = -3: must be at least 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_samantha_command_reports_bad_settings_with_exit_2(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[panel]\nbutton_pin = 99\n")
    result = subprocess.run([sys.executable, "-m", "services.cli", "--config", str(config), "run"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "panel.button_pin = 99" in result.stderr


def test_reference_documents_every_section():
    text = settings_reference()
    for section in ("[general]", "[bus]", "[audio]", "[voice]", "[listener]", "[dialogue]", "[panel]", "[bridge]"):
        assert section in text
