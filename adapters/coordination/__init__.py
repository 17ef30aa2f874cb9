"""Coordination between replies and workers: locks, waiting lines, pacing, stop requests, event streams (ports.py)."""
