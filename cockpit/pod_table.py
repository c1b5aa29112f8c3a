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
        anything may. A usage mapping that is not the very one of the last update counts as
        "anything may". The records keep the source's order (the engine breaks ties by it)."""
        whole = changes is None or usage is not self._usage
        self._usage = usage
        if whole:
            return self._rebuild(pods, usage)
        added, modified, removed = [], [], []
        for key in changes or ():
            pod = pods.get(key)
            if pod is None:
                if self.records.pop(key, None) is not None:
                    del self._parts[key]
                    removed.append(key)
                continue
            old = self.records.get(key)
            record = self._merge(key, pod, usage.get(key))
            if old is None:
                added.append(key)
            elif old is not record and old != record:
                modified.append(key)
            self.records[key] = record
        return added, modified, removed

    def _rebuild(
        self, pods: Mapping[PodKey, Pod], usage: Mapping[PodKey, Resources]
    ) -> tuple[list[PodKey], list[PodKey], list[PodKey]]:
        before = self.records
        self.records = {key: self._merge(key, pod, usage.get(key)) for key, pod in pods.items()}
        added, modified = [], []
        for key, record in self.records.items():
            old = before.get(key)
            if old is None:
                added.append(key)
            elif old is not record and old != record:
                modified.append(key)
        removed = [key for key in before if key not in pods]
        for key in removed:
            del self._parts[key]
        return added, modified, removed

    def _merge(self, key: PodKey, pod: Pod, usage: Resources | None) -> Pod:
        """The pod with its usage; the same record as last time when neither moved."""
        kept = self._parts.get(key)
        if kept is not None and kept[0] is pod and kept[1] == usage:
            return self.records[key]
        self._parts[key] = (pod, usage)
        return pod if usage is None else replace(pod, usage=usage)
