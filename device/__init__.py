"""Samantha's hardware layer: microphone and speaker, button and LEDs, each with a real and a test backend."""
