"""The pods as the inventory publishes them: each watched pod with its metrics merged in,
kept from one publish to the next and patched by the keys that changed.

At 10,000 pods a pass over every pod in Python costs tens of milliseconds; under a stream of
watch events (100 a second is a busy cluster, not a broken one) a pass per publish kept the
cockpit behind the events it was meant to show. The Kubernetes source says which pods
changed since it was last asked, so a publish costs what changed. A new metrics scrape
moves every pod's usage and is taken whole, as is a relist.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import replace
from typing import Any

from cockpit.model import Pod, Resources

PodKey = tuple[str, str]


class PodTable:
    def __init__(self) -> None:
        self.records: dict[PodKey, Pod] = {}  # what was last published, usage merged
        self._parts: dict[PodKey, tuple[Pod, Resources | None]] = {}  # what each was made of
        self._usage: Mapping[PodKey, Resources] | None = None

    def update(
        self,
        pods: Mapping[PodKey, Pod],
        usage: Mapping[PodKey, Resources],
        changes: Set[PodKey] | None,
    ) -> tuple[list[PodKey], list[PodKey], list[PodKey]]:
        """Bring the table up to `pods` and `usage`; (added, modified, removed) keys.
        `changes` names every key that may differ since the last update, or is None when
        anything may (then every pod is looked at). A usage mapping that is not the very
        one of the last update counts as "anything may"."""
        if changes is None or usage is not self._usage:
            keys: Any = pods.keys() | self.records.keys()
        else:
            keys = changes
        self._usage = usage
        added, modified, removed = [], [], []
        records, parts = self.records, self._parts
        for key in keys:
            pod = pods.get(key)
            old = records.get(key)
            if pod is None:
                if old is not None:
                    del records[key], parts[key]
                    removed.append(key)
                continue
            u = usage.get(key)
            kept = parts.get(key)
            if kept is not None and kept[0] is pod and kept[1] == u:
                continue  # neither the pod nor its usage moved: the same record
            record = pod if u is None else replace(pod, usage=u)
            parts[key] = (pod, u)
            if old is None:
                added.append(key)
            elif old != record:
                modified.append(key)
            records[key] = record
        return added, modified, removed
