"""The listener service: wake word (openWakeWord), end of speech (Silero VAD) and speech-to-text
(Whisper or Vosk) on the device's microphone.

- :mod:`.pipeline` -- the pure streaming pipeline over 80 ms frames, shared by everything below
- :mod:`.service` -- the service: microphone thread, bus commands and events
- :mod:`.cli` -- ``samantha hear FILE.wav``; :mod:`.models` -- ``samantha models pull vosk-en``
- :mod:`.vocabulary` -- the phrase file the dialogue service writes for the recognisers
"""
