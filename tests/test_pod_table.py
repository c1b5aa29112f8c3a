"""The inventory's pods, patched key by key, always equal the pods merged from scratch, and
the keys it reports as added, modified and removed are exactly the ones that differ."""

from __future__ import annotations

import random
from dataclasses import replace

from cockpit.model import Pod, Resources
from cockpit.pod_table import PodTable


def merged(pods: dict, usage: dict) -> dict:
    return {k: (p if k not in usage else replace(p, usage=usage[k])) for k, p in pods.items()}


def test_patched_by_changed_keys_equals_built_from_scratch():
    rng = random.Random(7)
    table = PodTable()
    pods: dict = {}
    usage: dict = {}
    for step in range(400):
        before = merged(pods, usage)
        changes: set | None = set()
        for _ in range(rng.randint(0, 6)):
            key = ("ns", f"p{rng.randint(0, 40)}")
            what = rng.random()
            if what < 0.4:
                pods[key] = Pod("ns", key[1], node=f"n{rng.randint(0, 3)}", restarts=step)
            elif what < 0.55 and key in pods:
                pods[key] = replace(pods[key])  # a new object, equal: not a modification
            elif what < 0.8:
                pods.pop(key, None)
            changes.add(key)
        if rng.random() < 0.1:
            # A metrics scrape: a new usage mapping, some pods' figures moved.
            moved = [k for k in pods if rng.random() < 0.7]
            usage = {k: Resources(rng.choice((100, 200)), 2**20) for k in moved}
        if rng.random() < 0.05:
            changes = None  # a relist: anything may have changed
        added, modified, removed = table.update(pods, usage, changes)
        after = merged(pods, usage)
        assert table.records == after
        if changes is None:  # taken whole: in the source's order, which the engine's ties use
            assert list(table.records) == list(pods)
        assert set(added) == after.keys() - before.keys()
        assert set(removed) == before.keys() - after.keys()
        assert set(modified) == {k for k in after.keys() & before.keys() if after[k] != before[k]}


def test_an_unchanged_pod_keeps_its_record_object():
    """The screen and the ledger compare records by identity first."""
    table = PodTable()
    pods = {("a", "x"): Pod("a", "x"), ("a", "y"): Pod("a", "y")}
    usage = {("a", "x"): Resources(100, 2**20)}
    table.update(pods, usage, None)
    first = dict(table.records)
    pods[("a", "y")] = Pod("a", "y", restarts=1)
    assert table.update(pods, usage, {("a", "y")}) == ([], [("a", "y")], [])
    assert table.records[("a", "x")] is first[("a", "x")]
    assert table.update(pods, dict(usage), set()) == ([], [], [])
    assert table.records[("a", "x")] is first[("a", "x")]
