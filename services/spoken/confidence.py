"""Act or ask: whether an understanding of a transcript is safe to carry out.

A wrong action (the wrong light off, the wrong zone watered) costs a user more than a question
("Sorry, did you mean ...?"). Two signs that the words themselves are wrong:

- the recogniser was unsure of them: Whisper's mean token probability (the listener's
  ``Transcript.confidence``) is low;
- no template matched and the transcript holds words the device has never seen in its phrases
  or names (``PhoneticVocabulary.unknown_words``): the model is guessing from garbled words;
- given the dialogue model's own confidence: no template matched and the model's guess is not
  sure enough (a separate minimum applies when some words are unknown; calibrated, it is "never").

>>> worth_acting_on(0.9, template_matched=True, unknown_words=[])
True
>>> worth_acting_on(0.9, template_matched=False, unknown_words=["ketchup"])
False
>>> worth_acting_on(0.2, template_matched=True, unknown_words=[])
False
>>> worth_acting_on(0.9, template_matched=False, unknown_words=[], understood_confidence=0.6)
False
"""

from __future__ import annotations

from typing import Sequence

# The lowest heard confidence acted on. Chosen with bench/spoken_calibrate.py on the device's OWN
# phrases (its templates with a home's names; 238 clips, Piper and three espeak-ng voices, clean
# and at 15/9/6 dB): the value with the most right actions minus twice the wrong ones. (Keeping
# wrong actions under 1 % there needs 0.8, which leaves under a tenth of commands acted on.)
# Not fitted on any test set.
MIN_HEARD_CONFIDENCE = 0.65
# The dialogue model's lowest confidence acted on when no template matched: with every word known,
# and with some unknown. Chosen with bench/spoken_calibrate.py --heard on the 349 clips held out of
# models/heard-sentences.jsonl (the model's own sentences, other voices and noise than the spoken
# bench's; never learned from), by the same rule as MIN_HEARD_CONFIDENCE, which those clips also
# confirmed: right 24.4 -> 24.1 %, wrong actions 4.6 -> 4.3 % there. A guess through unknown words
# is still never acted on: no minimum did better there.
MIN_GUESS_CONFIDENCE = 0.7
MIN_GUESS_CONFIDENCE_UNKNOWN_WORDS = 1.01  # above any confidence: never


def worth_acting_on(
    heard_confidence: float,
    template_matched: bool,
    unknown_words: Sequence[str],
    min_heard_confidence: float = MIN_HEARD_CONFIDENCE,
    understood_confidence: float | None = None,
) -> bool:
    """True to act on the understanding; False to ask the user instead.

    ``understood_confidence``: the dialogue model's confidence in its understanding; without it a
    guess (no template matched) is acted on only when every word is known.
    """
    if heard_confidence < min_heard_confidence:
        return False
    if template_matched:
        return True
    if understood_confidence is None:
        return not unknown_words
    return understood_confidence >= (MIN_GUESS_CONFIDENCE_UNKNOWN_WORDS if unknown_words else MIN_GUESS_CONFIDENCE)
