"""A big lab's standing risks are made again when the configuration changed or the pods
were taken whole, and at most every RISKS_EVERY seconds while pods change key by key."""

from __future__ import annotations

from cockpit.inventory import Changes, LayerDelta
from cockpit.ui.risk_cache import RISKS_EVERY, RiskCache


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def pods(added=(), removed=(), modified=()) -> Changes:
    delta = LayerDelta(frozenset(added), frozenset(removed), frozenset(modified))
    return Changes({"pods"}, {"pods": delta})


def test_risks_are_kept_until_the_configuration_changes():
    clock = Clock()
    cache = RiskCache(clock)
    assert cache.get() is None
    risks = ["a risk"]
    cache.keep(risks, cache.epoch)  # type: ignore[arg-type]
    assert cache.get() is risks
    cache.note(Changes({"events"}))
    cache.note(pods(modified={"ns/a"}))
    cache.note(pods(added={"ns/b"}, removed={"ns/c"}))
    assert cache.get() is risks, "pods changed key by key: the risks may wait"
    clock.now += RISKS_EVERY
    assert cache.get() is None, "but not longer than RISKS_EVERY"
    cache.keep(risks, cache.epoch)  # type: ignore[arg-type]
    clock.now += 10 * RISKS_EVERY
    assert cache.get() is risks, "nothing changed since: still good"
    for voiding in (Changes({"pods"}), Changes({"nodes"}), Changes({"workloads", "pods"})):
        cache.keep(risks, cache.epoch)  # type: ignore[arg-type]
        cache.note(voiding)
        assert cache.get() is None, voiding


def test_risks_made_before_a_change_that_voids_them_are_not_kept():
    """A triage thread that started before a node changed must not store its risks."""
    cache = RiskCache(Clock())
    epoch = cache.epoch
    cache.note(Changes({"nodes"}))
    cache.keep(["old"], epoch)  # type: ignore[arg-type]
    assert cache.get() is None
