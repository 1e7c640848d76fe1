"""Samplers, parsers and statistics: CPU, memory, energy, thermal and latency figures."""
