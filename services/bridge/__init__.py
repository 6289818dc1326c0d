"""The bridge service: the speaker in the home-automation hub (MQTT discovery, state, commands),
and the hub's devices within reach of its voice (see docs/bridge.md)."""
