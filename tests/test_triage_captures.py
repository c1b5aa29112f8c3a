"""Triage on real captures: each captured pod, parsed as the source parses it, gives the
finding its state calls for (and a healthy capture gives none)."""

from __future__ import annotations

import json
from pathlib import Path

from cockpit.model import Snapshot
from cockpit.sources.kube_parse import parse_list, parse_node, parse_pod
from cockpit.triage.findings import find_findings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "kube"


def capture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def live_codes(snapshot: Snapshot) -> dict[str, set[str]]:
    """Per object ref, the codes of the live (non-risk) findings about it."""
    out: dict[str, set[str]] = {}
    for f in find_findings(snapshot):
        if not f.risk:
            out.setdefault(f.obj.ref, set()).add(f.code)
    return out


def one_pod(name: str) -> tuple[Snapshot, str]:
    pod = parse_pod(capture(name))
    return Snapshot(pods=(pod,)), f"{pod.namespace}/pod/{pod.name}"


def test_the_crashloop_capture_is_a_crashloop_finding():
    snapshot, ref = one_pod("k8rs-crashloop.json")
    codes = live_codes(snapshot)
    assert "POD-CRASHLOOP" in codes[ref]
    (finding,) = [f for f in find_findings(snapshot) if f.code == "POD-CRASHLOOP"]
    assert "quitter" in finding.text and finding.severity in ("critical", "warning")


def test_the_oom_capture_is_an_oomkilled_finding_with_its_limit():
    snapshot, ref = one_pod("k8rs-oom.json")
    assert "POD-OOMKILLED" in live_codes(snapshot)[ref]
    (finding,) = [f for f in find_findings(snapshot) if f.code == "POD-OOMKILLED"]
    limit = snapshot.pods[0].containers[0].limits.memory
    assert limit is None or "limit" in finding.text


def test_a_healthy_capture_gives_no_pod_finding():
    pods, _, _ = parse_list(capture("k8rs-kube-system-pods.json"), parse_pod)
    nodes, _, _ = parse_list(capture("k8rs-nodes.json"), parse_node)
    snapshot = Snapshot(nodes=tuple(nodes), pods=tuple(pods))
    pod_codes = {
        code for ref, codes in live_codes(snapshot).items() if "/pod/" in ref for code in codes
    }
    assert pod_codes == set()
