"""Fill the lab apiserver from a lab file's Snapshot: namespaces, priority classes, nodes,
workloads with their ReplicaSets, pods bound where the plan put them, PDBs and the kube-dns
Service, so the cluster starts in the state the plan describes instead of converging to it."""

from __future__ import annotations

from cockpit.lab.kube.controllers import Controllers
from cockpit.lab.kube.meta import owner_ref, template_hash
from cockpit.lab.kube.objects import (
    namespace_object,
    node_object,
    pdb_object,
    pod_object,
    priority_class_object,
    rfc3339,
    workload_object,
)
from cockpit.lab.kube.store import Store
from cockpit.model import Hpa, Pod, Snapshot, Workload

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# (kubernetes Service, kube-dns Service): k3s' service CIDR is 10.43.0.0/16, kubeadm's
# default 10.96.0.0/12; the apiserver takes the first address and DNS the tenth.
CLUSTER_IPS = {
    "k3s": ("10.43.0.1", "10.43.0.10"),
    "kubeadm": ("10.96.0.1", "10.96.0.10"),
    "none": ("10.96.0.1", "10.96.0.10"),
}
RESOURCE = {
    "Deployment": "deployments.apps",
    "StatefulSet": "statefulsets.apps",
    "DaemonSet": "daemonsets.apps",
}


def seed(
    store: Store, controllers: Controllers, snap: Snapshot, now: float, distro: str = "k3s"
) -> None:
    start = now - 6 * 3600  # the lab has been up for a while when the cockpit looks at it
    namespaces = dict.fromkeys(
        (
            *SYSTEM_NAMESPACES,
            *(p.namespace for p in snap.pods),
            *(w.namespace for w in snap.workloads),
        )
    )
    for ns in namespaces:
        store.create("namespaces", namespace_object(ns))
    for pc in snap.priority_classes:
        store.create("priorityclasses.scheduling.k8s.io", priority_class_object(pc))
    for node in snap.nodes:
        store.create("nodes", node_object(node, created=start))
    owners: dict[tuple[str, str, str], dict] = {}  # (kind, ns, name) of a pod's owner -> obj
    for workload in snap.workloads:
        pods = snap.pods_by_workload.get(workload.key, [])
        if not pods:
            continue  # nothing to take a template from; the plan has no pod of it
        owners.update(_seed_workload(store, workload, pods[0], start))
        for pod in pods:
            if pod.profile is not None:
                app = pod.labels.get("app.kubernetes.io/name", workload.name)
                controllers.profiles[(pod.namespace, app)] = pod.profile
    for pod in snap.pods:
        _seed_pod(store, pod, owners, snap, start)
    for pdb in snap.pdbs:
        store.create("poddisruptionbudgets.policy", pdb_object(pdb))
    for hpa in snap.hpas:
        store.create("horizontalpodautoscalers.autoscaling", _hpa(hpa))
    store.create("services", _service("default", "kubernetes", {}, CLUSTER_IPS[distro][0], []))
    if ("Deployment", "kube-system", "coredns") in snap.workload_by_key:
        store.create("services", _kube_dns(CLUSTER_IPS[distro][1]))
    if ("Deployment", "kube-system", "metrics-server") in snap.workload_by_key:
        store.create(
            "services",
            _service(
                "kube-system",
                "metrics-server",
                {"k8s-app": "metrics-server"},
                CLUSTER_IPS[distro][0].rsplit(".", 1)[0] + ".143",
                [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https"}],
                labels={"k8s-app": "metrics-server"},
            ),
        )


def _seed_workload(store: Store, w: Workload, sample: Pod, start: float) -> dict:
    obj = workload_object(w, sample, created=start)
    obj["metadata"]["creationTimestamp"] = rfc3339(start)
    template = obj["spec"]["template"]
    template.setdefault("metadata", {}).setdefault("labels", {}).pop("pod-template-hash", None)
    created = store.create(RESOURCE[w.kind], obj)
    if w.kind != "Deployment":
        return {(w.kind, w.namespace, w.name): created}
    # The plan's pods carry the hash of the ReplicaSet they were made by; keep it, so pod
    # names in the lab match the plan's, and mark revision 1.
    digest = sample.labels.get("pod-template-hash") or template_hash(template)
    rs_template = {
        **template,
        "metadata": {
            **template.get("metadata", {}),
            "labels": {
                **template.get("metadata", {}).get("labels", {}),
                "pod-template-hash": digest,
            },
        },
    }
    selector = {
        "matchLabels": {
            **obj["spec"]["selector"].get("matchLabels", {}),
            "pod-template-hash": digest,
        }
    }
    rs = store.create(
        "replicasets.apps",
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{w.name}-{digest}",
                "namespace": w.namespace,
                "labels": dict(rs_template["metadata"]["labels"]),
                "annotations": {"deployment.kubernetes.io/revision": "1"},
                "ownerReferences": [owner_ref(created, "Deployment")],
                "creationTimestamp": rfc3339(start),
            },
            "spec": {"replicas": w.replicas, "selector": selector, "template": rs_template},
        },
    )
    return {("ReplicaSet", w.namespace, f"{w.name}-{digest}"): rs}


def _seed_pod(store: Store, pod: Pod, owners: dict, snap: Snapshot, start: float) -> None:
    obj = pod_object(pod)
    meta = obj["metadata"]
    meta["creationTimestamp"] = rfc3339(start + pod.created)
    owner = owners.get((pod.owner.kind, pod.namespace, pod.owner.name)) if pod.owner else None
    if owner is not None:
        kind = pod.owner.kind if pod.owner else ""
        meta["ownerReferences"] = [owner_ref(owner, kind)]
        if kind in ("StatefulSet", "DaemonSet"):
            revision = template_hash(owner["spec"]["template"])
            meta.setdefault("labels", {})["controller-revision-hash"] = (
                f"{owner['metadata']['name']}-{revision}" if kind == "StatefulSet" else revision
            )
    elif pod.owner is not None and pod.owner.kind == "Node":
        node = store.find("nodes", ("", pod.owner.name))
        if node is not None:
            meta["ownerReferences"] = [owner_ref(node, "Node", api_version="v1")]
    store.create("pods", obj)


def _hpa(hpa: Hpa) -> dict:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": hpa.name, "namespace": hpa.namespace},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": hpa.target_kind,
                "name": hpa.target_name,
            },
            "minReplicas": hpa.min_replicas,
            "maxReplicas": hpa.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": m.resource,
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": m.target_utilization,
                        },
                    },
                }
                for m in hpa.metrics
            ],
        },
        "status": {
            "currentReplicas": hpa.current_replicas,
            "desiredReplicas": hpa.desired_replicas,
        },
    }


def _service(
    namespace: str,
    name: str,
    selector: dict[str, str],
    cluster_ip: str,
    ports: list[dict],
    labels: dict[str, str] | None = None,
) -> dict:
    spec: dict = {
        "clusterIP": cluster_ip,
        "clusterIPs": [cluster_ip],
        "type": "ClusterIP",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
        "ports": ports or [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
    }
    if selector:
        spec["selector"] = selector
    meta: dict = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    elif not selector:  # the apiserver's own Service
        meta["labels"] = {"component": "apiserver", "provider": "kubernetes"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def _kube_dns(cluster_ip: str) -> dict:
    """The cluster DNS Service as k3s and kubeadm create it: named kube-dns whatever the DNS
    server is, selecting k8s-app=kube-dns, on the tenth address of the service range."""
    return _service(
        "kube-system",
        "kube-dns",
        {"k8s-app": "kube-dns"},
        cluster_ip,
        [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
        ],
        labels={
            "k8s-app": "kube-dns",
            "kubernetes.io/cluster-service": "true",
            "kubernetes.io/name": "CoreDNS",
        },
    )
