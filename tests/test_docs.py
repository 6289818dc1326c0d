"""The settings and bus message references in docs/ are the ones the code generates."""

from pathlib import Path

from services.cli import messages_reference
from services.settings import settings_reference

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_settings_reference_is_up_to_date():
    assert (DOCS / "settings.md").read_text() == settings_reference() + "\n", \
        "run: .venv/bin/samantha settings > docs/settings.md"


def test_messages_reference_is_up_to_date():
    assert (DOCS / "messages.md").read_text() == messages_reference() + "\n", \
        "run: .venv/bin/samantha messages > docs/messages.md"
