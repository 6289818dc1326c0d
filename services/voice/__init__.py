"""The voice service."""
