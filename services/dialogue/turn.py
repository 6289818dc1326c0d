"""One exchange of the conversation: what was heard and understood, and what to say back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Optional


@dataclass
class Turn:
    """What the user said and what it meant."""

    text: str
    intent: str | None
    slots: dict[str, Any] = field(default_factory=dict)
    confidence: float = 1.0
    follow_up: bool = False  # heard in the follow-up window after a question
    declined: str = ""  # why the words were not taken as a request (nlu Understanding.declined)

    def slot(self, name: str, default: Any = None) -> Any:
        value = self.slots.get(name, default)
        if isinstance(value, dict):  # some models give {"value": ..., "text": ...}
            value = value.get("value", value.get("text", default))
        return value

    def slot_text(self, name: str) -> str:
        value = self.slot(name)
        return "" if value is None else str(value).strip()


# Answer to a question: a Reply when the words answered it, None when they did not.
Resume = Callable[[Turn], Awaitable[Optional["Reply"]]]


@dataclass
class Question:
    """Something Samantha asked and is waiting to hear the answer to."""

    kind: str  # "timer_duration", "home_area", "yes_no", ... (for logs and tests)
    text: str  # the question, to ask again
    resume: Resume
    asked_at: float = 0.0
    attempts: int = 0


@dataclass
class Reply:
    """What to say back, and whether an answer is expected."""

    text: str = ""  # "" says nothing
    question: Question | None = None

    @property
    def expect_reply(self) -> bool:
        return self.question is not None


def asking(text: str, kind: str, resume: Resume) -> Reply:
    """A reply that asks a question and waits for the answer."""
    return Reply(text, Question(kind, text, resume))
