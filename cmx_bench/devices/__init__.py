"""Devices that run the runner and are measured while it runs: the host (local) and Android phones."""
