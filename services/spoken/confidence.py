"""Act or ask: whether an understanding of a transcript is safe to carry out.

A wrong action (the wrong light off, the wrong zone watered) costs a user more than a question
("Sorry, did you mean ...?"). Two signs that the words themselves are wrong:

- the recogniser was unsure of them: Whisper's mean token probability (the listener's
  ``Transcript.confidence``) is low;
- no template matched and the transcript holds words the device has never seen in its phrases
  or names (``PhoneticVocabulary.unknown_words``): the model is guessing from garbled words;
- given the dialogue model's own confidence: no template matched and the model's guess is not
  sure enough (a separate minimum applies when some words are unknown; calibrated, it is "never").

And one sign that they are right: the words are, word for word, one of the commands the device
knows (``in_grammar``: a sentence of services/command_grammar.py's graph). A recogniser that mishears
lands on garbled words far more often than on another valid command, so such a reading is acted on
unless the recogniser was very unsure of it (``MIN_GRAMMAR_HEARD_CONFIDENCE``) or it is a single word
("stop", "mow", "ok": a short garble lands on one of those easily).

Before all of these, one sign of doubt that no single reading shows: the recogniser's other readings
of the same audio mean something else, nearly as likely (``rival_margin``, from
services/dialogue/readings.py): "turn off the lights" first, "turn on the lights" close behind. Then
a command can be word for word right and still be a coin toss; asking costs a "yes".

>>> worth_acting_on(0.9, template_matched=True, unknown_words=[])
True
>>> worth_acting_on(0.9, template_matched=False, unknown_words=["ketchup"])
False
>>> worth_acting_on(0.2, template_matched=True, unknown_words=[])
False
>>> worth_acting_on(0.9, template_matched=False, unknown_words=[], understood_confidence=0.6)
False
>>> worth_acting_on(0.4, template_matched=True, unknown_words=[], in_grammar_words=4)
True
"""

from __future__ import annotations

import math
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
# The lowest heard confidence acted on when the words are exactly one of the device's commands, and
# the fewest words. Chosen with bench/spoken_calibrate.py --heard --all (1,312 clips of the model's own
# sentences in voices and noise the spoken bench does not use; the model does not learn from them)
# by the same rule as above: right 12.8 -> 14.7 %, wrong actions 10.1 -> 10.6 % there.
MIN_GRAMMAR_HEARD_CONFIDENCE = 0.3
MIN_GRAMMAR_WORDS = 2
# How far ahead of the best reading that means something else the chosen one must score (log
# confidence plus meaning, services/dialogue/readings.py) to be acted on without asking. Chosen with
# bench/spoken_calibrate.py --rival-margin on 937 clips of the device's own phrases (never the
# tests), by the rule above: right / wrong actions 422 / 66 with no such check, 398 / 39 at 0.2
# (0.5: 376 / 29; 1.0: 291 / 21). On 2,348 clips 0.2 and 0.5 tie (1,006 / 95 and 952 / 67): kept
# at 0.2, the one that asks less.
MIN_RIVAL_MARGIN = 0.2


def worth_acting_on(
    heard_confidence: float,
    template_matched: bool,
    unknown_words: Sequence[str],
    min_heard_confidence: float = MIN_HEARD_CONFIDENCE,
    understood_confidence: float | None = None,
    in_grammar_words: int = 0,
    rival_margin: float = math.inf,
    min_rival_margin: float = MIN_RIVAL_MARGIN,
) -> bool:
    """True to act on the understanding; False to ask the user instead.

    ``understood_confidence``: the dialogue model's confidence in its understanding; without it a
    guess (no template matched) is acted on only when every word is known.
    ``in_grammar_words``: how many words the transcript has when it is exactly one of the device's
    commands, else 0.
    ``rival_margin``: how far the reading scored ahead of the best other reading that means
    something else (infinite when none does).
    """
    if rival_margin < min_rival_margin:
        return False
    if in_grammar_words >= MIN_GRAMMAR_WORDS and heard_confidence >= MIN_GRAMMAR_HEARD_CONFIDENCE:
        return True
    if heard_confidence < min_heard_confidence:
        return False
    if template_matched:
        return True
    if understood_confidence is None:
        return not unknown_words
    return understood_confidence >= (MIN_GUESS_CONFIDENCE_UNKNOWN_WORDS if unknown_words else MIN_GUESS_CONFIDENCE)
