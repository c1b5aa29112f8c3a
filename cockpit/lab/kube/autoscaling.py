"""The horizontal-pod-autoscaler controller's status, from metrics-server's numbers, and
whether metrics-server answers at all.

The lab's metrics API is an aggregated API like the real one: while no metrics-server pod
is Ready it answers 503, and every HPA reads `<unknown>` with ScalingActive=False
(FailedGetResourceMetric), which is how seed 002's `<unknown>/70%` looks. The HPAs report
the replica count they would want but leave the workload's size alone unless
`hpa_scaling` is on, so a lab keeps the pod count its file describes.
"""

from __future__ import annotations

import math

from cockpit.lab.kube.meta import DEPLOY, PODS, ControllerState, _label_keys, is_ready, key_of
from cockpit.lab.kube.objects import rfc3339

HPAS = "horizontalpodautoscalers.autoscaling"
METRICS_DOWN = "the server is currently unable to handle the request (get pods.metrics.k8s.io)"
TOLERANCE = 0.1  # the controller's default: no change within 10 % of the target


class AutoscalingControllers(ControllerState):
    metrics_enabled: bool
    hpa_scaling: bool

    def metrics_backend_up(self) -> bool:
        """Whether metrics.k8s.io answers: metrics-server has a Ready pod (in a lab that
        runs it), and the lab was not started without metrics."""
        if not self.metrics_enabled:
            return False
        if self.store.find(DEPLOY, ("kube-system", "metrics-server")) is None:
            return True
        by_label = self._index(PODS, "label", _label_keys)
        return any(
            is_ready(p) for p in by_label.get(("kube-system", "k8s-app", "metrics-server"), [])
        )

    def autoscalers(self, now: float) -> None:
        up = self.metrics_backend_up()
        by_label = self._index(PODS, "label", _label_keys)
        for hpa in self.store.items(HPAS):
            ns = hpa["metadata"]["namespace"]
            ref = hpa["spec"].get("scaleTargetRef", {})
            resource = {"Deployment": DEPLOY, "StatefulSet": "statefulsets.apps"}.get(
                ref.get("kind", ""), ""
            )
            target = self.store.find(resource, (ns, ref.get("name", ""))) if resource else None
            if target is None:
                self._hpa_status(
                    hpa,
                    now,
                    [],
                    0,
                    0,
                    (
                        "False",
                        "FailedGetScale",
                        f'deployments/scale.apps "{ref.get("name")}" not found',
                    ),
                )
                continue
            selector = target["spec"].get("selector", {}).get("matchLabels") or {}
            first = next(iter(selector.items()), None)
            pods = [
                p
                for p in by_label.get((ns, *first) if first else (ns,), [])
                if is_ready(p)
                and all(
                    (p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items()
                )
            ]
            replicas = target["spec"].get("replicas", 1)
            current: list[dict] = []
            ratios: list[float] = []
            failure = None
            for m in hpa["spec"].get("metrics") or []:
                if m.get("type") != "Resource":
                    continue
                name = m["resource"]["name"]
                want = m["resource"].get("target", {}).get("averageUtilization") or 100
                if not up:
                    failure = (
                        "False",
                        "FailedGetResourceMetric",
                        f"the HPA was unable to compute the replica count: failed to get {name} "
                        f"utilization: unable to get metrics for resource {name}: unable to "
                        f"fetch metrics from resource metrics API: {METRICS_DOWN}",
                    )
                    continue
                used = requested = 0
                for p in pods:
                    model = self._parsed(p)
                    usage = self.usage_of(model, now)
                    used += (usage.cpu if name == "cpu" else usage.memory) or 0
                    req = model.requests.cpu if name == "cpu" else model.requests.memory
                    requested += req or 0
                if not requested:
                    failure = (
                        "False",
                        "FailedGetResourceMetric",
                        f"the HPA was unable to compute the replica count: failed to get {name} "
                        f"utilization: missing request for {name} in container",
                    )
                    continue
                percent = int(100 * used / requested)
                current.append(
                    {
                        "type": "Resource",
                        "resource": {
                            "name": name,
                            "current": {
                                "averageUtilization": percent,
                                "averageValue": f"{used // max(1, len(pods))}m"
                                if name == "cpu"
                                else str(used // max(1, len(pods))),
                            },
                        },
                    }
                )
                ratios.append(percent / want)
            low = hpa["spec"].get("minReplicas", 1)
            high = hpa["spec"].get("maxReplicas", replicas)
            desired = replicas
            if ratios and abs(max(ratios) - 1.0) > TOLERANCE:
                desired = math.ceil(len(pods) * max(ratios)) if pods else replicas
            desired = max(low, min(high, desired))
            if failure is not None:
                desired = replicas
                self.event(hpa, "Warning", failure[1], failure[2], now)
            elif self.hpa_scaling and desired != replicas:
                fresh = self.store.get(resource, key_of(target))
                fresh["spec"]["replicas"] = desired
                self.store.update(resource, fresh)
                self.event(
                    hpa,
                    "Normal",
                    "SuccessfulRescale",
                    f"New size: {desired}; reason: "
                    "resource utilization (percentage of request) beyond target",
                    now,
                )
            active = failure or (
                "True",
                "ValidMetricFound",
                "the HPA was able to successfully "
                "calculate a replica count from cpu resource utilization "
                "(percentage of request)",
            )
            self._hpa_status(hpa, now, current, replicas, desired, active)

    def _hpa_status(
        self,
        hpa: dict,
        now: float,
        current: list[dict],
        replicas: int,
        desired: int,
        active: tuple[str, str, str],
    ) -> None:
        old = hpa.get("status", {})
        old_conditions = {c["type"]: c for c in old.get("conditions") or []}

        def cond(kind: str, status: str, reason: str, message: str) -> dict:
            before = old_conditions.get(kind, {})
            since = before.get("lastTransitionTime") if before.get("status") == status else None
            return {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": since or rfc3339(now),
            }

        status: dict = {
            "currentReplicas": replicas,
            "desiredReplicas": desired,
            "conditions": [
                cond(
                    "AbleToScale",
                    "True",
                    "ReadyForNewScale",
                    "recommended size matches current size",
                ),
                cond("ScalingActive", *active),
                cond(
                    "ScalingLimited",
                    "False",
                    "DesiredWithinRange",
                    "the desired count is within the acceptable range",
                ),
            ],
        }
        if current:
            status["currentMetrics"] = current
        comparable = {k: v for k, v in old.items() if k != "lastScaleTime"}
        if comparable != status:
            fresh = self.store.get(HPAS, key_of(hpa))
            fresh["status"] = status
            self.store.update(HPAS, fresh)
