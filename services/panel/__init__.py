"""The panel service: the button and the LEDs (service.py), started by ``python -m services.panel``."""
