"""Guided procedures (node replacement) as journaled state machines over the actions."""
