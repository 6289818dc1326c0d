"""Bus messages: each round-trips, and malformed payloads are refused with a reason."""

from __future__ import annotations

import json

import pytest

from services.messages import ALL_MESSAGES, BadMessage, Say, SetVolume, parse


@pytest.mark.parametrize("cls", ALL_MESSAGES, ids=lambda c: c.__name__)
def test_every_documented_example_parses_and_round_trips(cls):
    message = cls.from_json(cls.EXAMPLE)
    assert parse(cls.TOPIC, message.to_json()) == message
    assert json.loads(message.to_json())["v"] == 1


@pytest.mark.parametrize(
    "topic, payload",
    [
        (Say.TOPIC, b"not json"),
        (Say.TOPIC, b'"just a string"'),
        (Say.TOPIC, b"{}"),
        (Say.TOPIC, b'{"text": 5}'),
        (Say.TOPIC, b'{"text": "   "}'),
        (Say.TOPIC, json.dumps({"text": "x" * 100_000}).encode()),
        (Say.TOPIC, b'{"text": "hi", "v": 99}'),
        (SetVolume.TOPIC, b'{"volume": 101}'),
        (SetVolume.TOPIC, b'{"volume": true}'),
        (SetVolume.TOPIC, b'{"volume": 5.5}'),
        ("samantha/nowhere", b"{}"),
        (Say.TOPIC, b"\xff\xfe\x00"),
    ],
)
def test_malformed_payloads_are_refused(topic, payload):
    with pytest.raises(BadMessage):
        parse(topic, payload)


def test_unknown_fields_are_ignored_for_forward_compatibility():
    assert parse(Say.TOPIC, b'{"text": "hi", "emotion": "warm"}') == Say(text="hi")
