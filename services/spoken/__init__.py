"""Recognition-error-tolerant text: what speech-to-text wrote, brought back to what the device knows.

Speech-to-text makes a handful of predictable kinds of mistake on commands: numbers written in its
own style ("12-ounce", "5-minute", "twenty five"), words that sound right but are spelled wrong
("rightness" for "brightness", "Tempt" for "temp"), and names of things heard nearly ("Bedroom
Lamb"). These functions undo them, using only what the device itself knows (its phrases, its
home's names), never a test set:

>>> normalize_transcript("Set a 12-ounce timer for twenty five minutes.")
'set a 12 ounce timer for 25 minutes'
>>> vocabulary = PhoneticVocabulary(["set the brightness to 50 percent", "set temp in the bedroom"])
>>> normalize_transcript("Set the rightness to 50%", vocabulary)
'set the brightness to 50%'
>>> resolve_value("bedroom lamb", ["Bedroom Lamp", "Kitchen Light"])
('Bedroom Lamp', 92.5)
>>> worth_acting_on(Signs(heard_confidence=0.9, unknown_words=2))   # a guess through garbled words: ask
False
"""

from .confidence import Signs, chance_right, worth_acting_on
from .normalize import normalize_transcript, numbers_to_digits
from .phonetic import PhoneticVocabulary, phonetic_key, resolve_value, sounds_like

__all__ = ["PhoneticVocabulary", "Signs", "chance_right", "normalize_transcript", "numbers_to_digits",
           "phonetic_key", "resolve_value", "sounds_like", "worth_acting_on"]
