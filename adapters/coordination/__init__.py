"""Coordination between workers (locks, stop requests, pacing, replayable event streams) over the shared store."""
