"""ReplicaSets, Deployments (rolling updates), StatefulSets (ordered) and DaemonSets."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import orjson

from cockpit.alloc.scheduler import eligible_for_daemonset
from cockpit.lab.kube.meta import (
    DEPLOY,
    DS,
    NODES,
    PODS,
    RS,
    STS,
    ControllerState,
    _copy,
    _ordinal,
    controller_uid,
    is_ready,
    key_of,
    owner_ref,
    parse_time,
    same_template,
    set_condition,
    suffix,
    template_hash,
    terminating,
)
from cockpit.labfile import DAEMONSET_TOLERATIONS
from cockpit.sources.kube_parse import parse_node, parse_pod

PATCH_AT_MOST = 2000  # changes since an index was built: more, and a rebuild costs no more


def _active(pod: dict) -> bool:
    """Counted by a ReplicaSet: not being deleted and not finished (an Evicted pod is
    Failed and is replaced, though it stays listed until someone deletes it)."""
    return not terminating(pod) and pod.get("status", {}).get("phase") not in (
        "Failed",
        "Succeeded",
    )


class WorkloadControllers(ControllerState):
    # --- workload controllers ----------------------------------------------------------

    def _owned(self, resource: str, owner: dict) -> list[dict]:
        uid = owner["metadata"]["uid"]
        return self._index(resource, "owner", lambda o: (controller_uid(o),)).get(uid, [])

    def _index(self, resource: str, name: str, keys: Callable[[dict], Iterable[Any]]) -> dict:
        """Objects of a resource grouped by key, rebuilt only when the resource changed:
        a pass over 2,000 owners must not scan 10,000 pods 2,000 times. When the changes
        since the last build are only updates that keep every object in its groups (an
        annotation patched, a status that moves no group), the new objects take the old
        ones' places instead: a client patching pods all the time must not make every
        lookup of a pass rebuild the index over all of them (at 50,000 pods and 100
        patches/s, a pass took a minute and held every write that long)."""
        version = self.store.versions[resource]
        cached = self._indexes.get((resource, name))
        if cached is not None and cached[0] == version:
            return cached[1]
        if cached is not None and self._patch_index(resource, cached, keys):
            self._indexes[(resource, name)] = (version, cached[1], cached[2])
            return cached[1]
        grouped: dict = {}
        members: dict = {}  # object key -> (the object indexed, its group keys)
        for obj in self.store.items(resource):
            groups = tuple(keys(obj))
            members[key_of(obj)] = (obj, groups)
            for key in groups:
                grouped.setdefault(key, []).append(obj)
        self._indexes[(resource, name)] = (version, grouped, members)
        return grouped

    def _patch_index(
        self, resource: str, cached: tuple, keys: Callable[[dict], Iterable[Any]]
    ) -> bool:
        """The cached index brought up to date in place; False when only a rebuild will do
        (an object came or went or changed groups, or the store's history has moved past
        the index's version)."""
        _, grouped, members = cached
        events = self.store.recent_events(resource, cached[0])
        if (
            events is None
            or len(events) > PATCH_AT_MOST
            or any(e.type != "MODIFIED" for e in events)
        ):
            return False
        live = self.store.objects[resource]
        changed = {key_of(orjson.loads(e.obj)) for e in events}
        updates = []
        for key in changed:
            old, new = members.get(key), live.get(key)
            if old is None or new is None:
                return False
            groups = tuple(keys(new))
            if groups != old[1]:
                return False
            updates.append((key, old[0], new, groups))
        for key, before, after, groups in updates:
            for group in groups:
                objs = grouped[group]
                for i, obj in enumerate(objs):
                    if obj is before:
                        objs[i] = after
                        break
            members[key] = (after, groups)
        return True

    def replicasets(self, now: float) -> None:
        for rs in self.store.items(RS):
            pods = [p for p in self._owned(PODS, rs) if _active(p)]
            want = rs["spec"].get("replicas", 1)
            if len(pods) < want:
                for _ in range(want - len(pods)):
                    self._create_pod(rs, "ReplicaSet", f"{rs['metadata']['name']}-{suffix()}", now)
            elif len(pods) > want:
                # Unscheduled, then not ready, then the youngest go first, as the RS controller
                # ranks them.
                ranked = sorted(
                    pods,
                    key=lambda p: (
                        bool(p["spec"].get("nodeName")),
                        is_ready(p),
                        -(parse_time(p["metadata"].get("creationTimestamp")) or 0),
                    ),
                )
                for pod in ranked[: len(pods) - want]:
                    self.delete_pod(key_of(pod))
            pods = [p for p in self._owned(PODS, rs) if _active(p)]
            ready = sum(1 for p in pods if is_ready(p))
            self._set_status(
                RS,
                rs,
                {
                    "replicas": len(pods),
                    "fullyLabeledReplicas": len(pods),
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                    "observedGeneration": rs["metadata"].get("generation", 1),
                },
            )

    def _set_status(self, resource: str, obj: dict, status: dict) -> None:
        current = obj.get("status", {})
        merged = {**current, **status}
        if merged != current:
            fresh = self.store.get(resource, key_of(obj))
            fresh["status"] = {**fresh.get("status", {}), **status}
            self.store.update(resource, fresh)

    def _create_pod(
        self,
        owner: dict,
        kind: str,
        name: str,
        now: float,
        node: str | None = None,
        extra_labels: dict | None = None,
    ) -> None:
        template = owner["spec"]["template"]
        meta = template.get("metadata", {})
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": owner["metadata"]["namespace"],
                "labels": {**(meta.get("labels") or {}), **(extra_labels or {})},
                "annotations": dict(meta.get("annotations") or {}),
                "ownerReferences": [owner_ref(owner, kind)],
            },
            "spec": _copy(template.get("spec", {})),
        }
        if node:
            pod["spec"]["nodeName"] = node
        if kind == "DaemonSet":
            # The DaemonSet controller's own tolerations: its pods stay on sick nodes.
            pod["spec"].setdefault("tolerations", []).extend(
                {"key": t.key, "operator": t.operator, "effect": t.effect}
                for t in DAEMONSET_TOLERATIONS
            )
        pod = self.admit_pod(pod)
        if node:
            set_condition(pod, "PodScheduled", "True", "", "", now)
        self.store.create(PODS, pod)
        if kind == "ReplicaSet":
            self.event(owner, "Normal", "SuccessfulCreate", f"Created pod: {name}", now)

    def deployments(self, now: float) -> None:
        for d in self.store.items(DEPLOY):
            rss = self._owned(RS, d)
            template = d["spec"]["template"]
            new = next((rs for rs in rss if same_template(rs["spec"]["template"], template)), None)
            revision = max(
                (
                    int(
                        rs["metadata"]
                        .get("annotations", {})
                        .get("deployment.kubernetes.io/revision", "0")
                    )
                    for rs in rss
                ),
                default=0,
            )
            if new is None:
                new = self._new_replicaset(d, template, revision + 1)
                rss = [*rss, new]
            old = [rs for rs in rss if rs["metadata"]["uid"] != new["metadata"]["uid"]]
            self._roll(d, new, old)
            self._deployment_status(d, new, old, now)

    def _new_replicaset(self, d: dict, template: dict, revision: int) -> dict:
        digest = template_hash(template)
        tpl = _copy(template)
        tpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = digest
        selector = _copy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})["pod-template-hash"] = digest
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{d['metadata']['name']}-{digest}",
                "namespace": d["metadata"]["namespace"],
                "labels": dict(tpl["metadata"]["labels"]),
                "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                "ownerReferences": [owner_ref(d, "Deployment")],
            },
            "spec": {"replicas": 0, "selector": selector, "template": tpl},
        }
        return self.store.create(RS, rs)

    def _roll(self, d: dict, new: dict, old: list[dict]) -> None:
        """RollingUpdate with maxSurge/maxUnavailable 25 % (surge rounds up, unavailable
        down), which for one replica means: start the new pod, then stop the old one."""
        want = d["spec"].get("replicas", 1)
        strategy = d["spec"].get("strategy", {})
        if strategy.get("type") == "Recreate":
            surge, unavailable = 0, want
        else:
            surge = math.ceil(want * 0.25) if want else 0
            unavailable = math.floor(want * 0.25)
            if surge == 0 and unavailable == 0:
                unavailable = 1
        spec_total = sum(rs["spec"].get("replicas", 0) for rs in [new, *old])
        if not old:
            if new["spec"].get("replicas", 0) != want:
                self._scale_rs(new, want)
            return
        room = want + surge - spec_total
        target = min(want, new["spec"].get("replicas", 0) + max(0, room))
        if target != new["spec"].get("replicas", 0):
            self._scale_rs(new, target)
        available = sum(rs.get("status", {}).get("availableReplicas", 0) for rs in [new, *old])
        removable = max(0, available - (want - unavailable))
        for rs in sorted(old, key=lambda r: r["metadata"]["creationTimestamp"]):
            current = rs["spec"].get("replicas", 0)
            unready = current - rs.get("status", {}).get("availableReplicas", 0)
            cut = min(current, removable + max(0, unready))
            if cut:
                self._scale_rs(rs, current - cut)
                removable = max(0, removable - cut)

    def _scale_rs(self, rs: dict, replicas: int) -> None:
        fresh = self.store.get(RS, key_of(rs))
        fresh["spec"]["replicas"] = replicas
        self.store.update(RS, fresh)

    def _deployment_status(self, d: dict, new: dict, old: list[dict], now: float) -> None:
        want = d["spec"].get("replicas", 1)
        all_rs = [self.store.get(RS, key_of(rs)) for rs in [new, *old]]
        new_status = all_rs[0].get("status", {})
        replicas = sum(rs.get("status", {}).get("replicas", 0) for rs in all_rs)
        available = sum(rs.get("status", {}).get("availableReplicas", 0) for rs in all_rs)
        ready = sum(rs.get("status", {}).get("readyReplicas", 0) for rs in all_rs)
        updated = new_status.get("replicas", 0)
        complete = updated == want and replicas == want and available == want
        fresh = self.store.get(DEPLOY, key_of(d))
        status = fresh.setdefault("status", {})
        before = _copy(status)
        status.update(
            observedGeneration=fresh["metadata"].get("generation", 1),
            replicas=replicas,
            updatedReplicas=updated,
            readyReplicas=ready,
            availableReplicas=available,
            unavailableReplicas=max(0, want - available),
        )
        min_available = want - math.floor(want * 0.25)
        set_condition(
            fresh,
            "Available",
            "True" if available >= min_available else "False",
            "MinimumReplicasAvailable"
            if available >= min_available
            else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if available >= min_available
            else "Deployment does not have minimum availability.",
            now,
        )
        rs_name = new["metadata"]["name"]
        set_condition(
            fresh,
            "Progressing",
            "True",
            "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
            f'ReplicaSet "{rs_name}" has successfully progressed.'
            if complete
            else f'ReplicaSet "{rs_name}" is progressing.',
            now,
        )
        revision = new["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision")
        annotations = fresh["metadata"].setdefault("annotations", {})
        if revision and annotations.get("deployment.kubernetes.io/revision") != revision:
            annotations["deployment.kubernetes.io/revision"] = revision
        elif status == before:
            return
        self.store.update(DEPLOY, fresh)

    def statefulsets(self, now: float) -> None:
        for sts in self.store.items(STS):
            name = sts["metadata"]["name"]
            want = sts["spec"].get("replicas", 1)
            revision = f"{name}-{template_hash(sts['spec']['template'])}"
            pods = {p["metadata"]["name"]: p for p in self._owned(PODS, sts)}
            # OrderedReady: create the lowest missing ordinal once all below it are ready.
            for i in range(want):
                pod = pods.get(f"{name}-{i}")
                if pod is None:
                    self._create_pod(
                        sts,
                        "StatefulSet",
                        f"{name}-{i}",
                        now,
                        extra_labels={
                            "controller-revision-hash": revision,
                            "statefulset.kubernetes.io/pod-name": f"{name}-{i}",
                            "apps.kubernetes.io/pod-index": str(i),
                        },
                    )
                    break
                if not is_ready(pod):
                    break
            else:
                # Scale down from the highest ordinal, then roll old revisions the same way.
                extra = sorted(
                    (p for n, p in pods.items() if _ordinal(n, name) >= want),
                    key=lambda p: -_ordinal(p["metadata"]["name"], name),
                )
                stale = sorted(
                    (
                        p
                        for n, p in pods.items()
                        if _ordinal(n, name) < want
                        and p["metadata"]["labels"].get("controller-revision-hash") != revision
                    ),
                    key=lambda p: -_ordinal(p["metadata"]["name"], name),
                )
                victim = (extra or stale or [None])[0]
                if victim is not None and not terminating(victim):
                    self.delete_pod(key_of(victim))
            live = [p for p in self._owned(PODS, sts) if not terminating(p)]
            updated = sum(
                1
                for p in live
                if p["metadata"]["labels"].get("controller-revision-hash") == revision
            )
            ready = sum(1 for p in live if is_ready(p))
            current = sts.get("status", {}).get("currentRevision") or revision
            if updated == want and ready == want:
                current = revision
            self._set_status(
                STS,
                sts,
                {
                    "observedGeneration": sts["metadata"].get("generation", 1),
                    "replicas": len(live),
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                    "currentReplicas": len(live) if current == revision else len(live) - updated,
                    "updatedReplicas": updated,
                    "currentRevision": current,
                    "updateRevision": revision,
                },
            )

    def daemonsets(self, now: float) -> None:
        nodes = [parse_node(n) for n in self.store.items(NODES)]
        for ds in self.store.items(DS):
            probe = parse_pod(
                {
                    "metadata": {"name": "probe", "namespace": "x"},
                    "spec": _copy(ds["spec"]["template"].get("spec", {})),
                }
            )
            probe = replace(probe, tolerations=(*probe.tolerations, *DAEMONSET_TOLERATIONS))
            eligible = {n.name for n in eligible_for_daemonset(probe, nodes)}
            revision = template_hash(ds["spec"]["template"])
            pods = [p for p in self._owned(PODS, ds) if not terminating(p)]
            on_node = {p["spec"].get("nodeName"): p for p in pods}
            for node in sorted(eligible - set(on_node)):
                self._create_pod(
                    ds,
                    "DaemonSet",
                    f"{ds['metadata']['name']}-{suffix()}",
                    now,
                    node=node,
                    extra_labels={"controller-revision-hash": revision},
                )
            for node, pod in on_node.items():
                if node not in eligible:
                    self.delete_pod(key_of(pod))
            stale = [
                p
                for p in pods
                if p["metadata"]["labels"].get("controller-revision-hash") != revision
            ]
            if stale and all(is_ready(p) for p in pods):
                self.delete_pod(key_of(stale[0]))  # maxUnavailable 1
            pods = [p for p in self._owned(PODS, ds) if not terminating(p)]
            ready = sum(1 for p in pods if is_ready(p))
            updated = sum(
                1
                for p in pods
                if p["metadata"]["labels"].get("controller-revision-hash") == revision
            )
            self._set_status(
                DS,
                ds,
                {
                    "observedGeneration": ds["metadata"].get("generation", 1),
                    "desiredNumberScheduled": len(eligible),
                    "currentNumberScheduled": len(pods),
                    "numberReady": ready,
                    "numberAvailable": ready,
                    "numberMisscheduled": 0,
                    "updatedNumberScheduled": updated,
                },
            )
