"""Outage triage: findings (one check, one object, one code), incidents (causes before
symptoms, ranked by impact) and the timeline, as pure functions of a Snapshot. No UI, no
network: the command line and the screen both call these."""
