"""Act or ask: whether an understanding of a spoken request is safe to carry out.

A wrong action (the wrong light off, the wrong zone watered) costs a user more than a question
("Sorry, did you mean ...?"). Seven signs say how likely the words understood are the words said:

- how sure the recogniser was of its first reading (Whisper's mean token probability, the
  listener's ``Transcript.confidence``): a mumbled or noisy request is heard less surely;
- how far the reading acted on is ahead of the recogniser's best other reading that means something
  else (``rival_margin``, services/dialogue/readings.py): "turn off the lights" first and "turn on
  the lights" close behind is a coin toss, however sure each reading looks;
- whether the words, as the recogniser heard them freely, are word for word one of the commands
  the device knows (a sentence template with no free text in it, or the command grammar): a
  mishearing lands on garbled words far more often than on another valid command;
- whether the reading was written from the command grammar (the nearest command to what was heard,
  or Whisper held to the grammar, services/listener/grammar_decoding.py): it is a command by
  construction, so it is weighed on its own, not as a command heard freely;
- how many words the recogniser's first reading has beyond the reading acted on: garbled speech
  held to the grammar often comes out as a short command ("thank you very much for taking the
  effort" -> "thanks") that explains only part of what was heard;
- whether a sentence template matched them (exactly, or with a wildcard), rather than the dialogue
  model's neural guess;
- how many words of the model's neural guess (no template matched) the device has never seen in its
  phrases or names: a guess made through garbled words is a guess. (Words new to the device in a
  template's free text, a song or a shopping item, are what users say, and do not count.)

A reading meaning something else that scored all but as well (within ``MIN_RIVAL_MARGIN``) is a
coin toss: she asks, however good the other signs. Otherwise the signs are weighed together by a
logistic model, fitted by ``bench/spoken_calibrate.py`` on the device's OWN phrases (its templates
with a home's names) spoken by Piper and three espeak-ng voices, clean and in noise, and heard by
the listener; never on any test sentences. It gives the chance that acting would be right; she acts
when that chance is at least ``ACT_CHANCE``.

>>> worth_acting_on(Signs(heard_confidence=0.9, template_matched=True))
True
>>> worth_acting_on(Signs(heard_confidence=0.9, template_matched=True, rival_margin=0.05))
False
>>> worth_acting_on(Signs(heard_confidence=0.5, exact_command=True, template_matched=True))
True
>>> worth_acting_on(Signs(heard_confidence=0.9, unknown_words=1))
False
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A wrong action costs as much as two requests she asks about or misses ("sorry, say that again" is
# a nuisance; the wrong light off, or a timer nobody set, is worse). So she acts when right at least
# two times in three: then acting is worth more than asking.
WRONG_ACTION_COST = 2.0
ACT_CHANCE = WRONG_ACTION_COST / (1.0 + WRONG_ACTION_COST)

# A rival reading this close is a tie (log-confidence units, services/dialogue/readings.py): ask. With
# the fitted model behind it, chosen on the own phrases (bench/spoken_calibrate.py prints the gates
# 0.05 - 0.3, each with a model fitted past it and held out): without it the model, which weighs the
# margin linearly, acts on exact commands with a tied rival ("turn on" / "turn off"), which are right
# about half the time. 0.1 and 0.2 tied before Whisper was held to the grammar (818 / 821, right -
# 2 x wrong); with it, which adds command readings, 0.2 is ahead (892 against 874).
MIN_RIVAL_MARGIN = 0.2
# A rival this far behind, or none at all, is no doubt; more words unknown than this are no worse.
# (Capped at 1 the margin predicted better than at 2 or 3, cross-validated on the own phrases.)
RIVAL_MARGIN_CAP = 1.0
UNKNOWN_WORDS_CAP = 3
WORDS_LEFT_OUT_CAP = 3
MIN_CONFIDENCE = 1e-6  # the log of a confidence of 0 would be -inf


@dataclass(frozen=True)
class Signs:
    """What the act-or-ask decision weighs about one understood spoken request."""

    heard_confidence: float  # the recogniser's confidence in its first reading, 0-1
    rival_margin: float = math.inf  # ahead of the best reading meaning something else (inf: none does)
    exact_command: bool = False  # the words, heard freely, are exactly one of the device's commands
    template_matched: bool = False  # a sentence template matched, not the neural guess
    unknown_words: int = 0  # words the device has never seen, in a guess (no template matched)
    made_by_grammar: bool = False  # the reading was written from the command grammar, not heard freely
    words_left_out: int = 0  # words the recogniser's first reading has beyond the reading acted on

    def features(self) -> tuple[float, ...]:
        """The signs as the model's inputs, in the order of ``WEIGHTS``."""
        return (math.log(max(self.heard_confidence, MIN_CONFIDENCE)),
                min(self.rival_margin, RIVAL_MARGIN_CAP),
                float(self.exact_command),
                float(self.template_matched),
                float(min(self.unknown_words, UNKNOWN_WORDS_CAP)),
                float(self.made_by_grammar),
                float(min(self.words_left_out, WORDS_LEFT_OUT_CAP)))


# Fitted by bench/spoken_calibrate.py (logistic regression, L2 with C=1) on the 2,301 understood
# requests of 2,348 clips of the device's own phrases (2026-12-07, transcripts
# listener-3cab9a78ba562141c6b8: Whisper tiny.en with the decoder tuned to her commands, held to the
# grammar). The tuned decoder's own readings are surer and more often right than plain tiny.en's, so
# its confidence weighs more and a reading the grammar wrote less than in the fit before (2026-11-27,
# plain tiny.en: 2.288, 0.645, 3.23, 0.565, -0.86, 2.497, -0.457, bias -0.143). Held out, right -
# 2 x wrong 1,571 (those weights) -> 1,601; docs/spoken-history.md has the output. In the order of
# Signs.features(): log heard confidence, rival margin (capped), exact command heard freely, template
# matched, unknown words, made by the grammar, words left out (capped).
WEIGHTS = (4.642, 0.849, 2.939, 0.969, -1.539, 1.103, -0.654)
BIAS = 0.136


def chance_right(signs: Signs, weights: tuple[float, ...] = WEIGHTS, bias: float = BIAS) -> float:
    """The model's chance that acting on this understanding would do what was said."""
    logit = bias + sum(w * x for w, x in zip(weights, signs.features()))
    return 1.0 / (1.0 + math.exp(-logit))


def worth_acting_on(signs: Signs, weights: tuple[float, ...] = WEIGHTS, bias: float = BIAS) -> bool:
    """True to act on the understanding; False to ask the user instead."""
    return signs.rival_margin >= MIN_RIVAL_MARGIN and chance_right(signs, weights, bias) >= ACT_CHANCE
