"""Mutating actions: planned by the allocation engine, confirmed, journaled, resumable."""
