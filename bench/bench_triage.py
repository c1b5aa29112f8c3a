"""Times findings + incidents on the synthetic lab (200 nodes / 10,000 pods by default), on a
quiet cluster and during an outage (one Proxmox host powered off: its 4 VMs stop, their nodes
go NotReady, their pods serve nothing).

    .venv/bin/python bench/bench_triage.py [--nodes 200] [--pods 10000] [--repeat 5]

Each figure is the best of --repeat runs on a fresh Snapshot (cached indexes cleared), as
after a refresh. The second pair takes the engine's static risks computed before, as a screen can
compute once per configuration change rather than on every refresh.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import synthetic_lab

from cockpit.model import Snapshot
from cockpit.triage.findings import facts_of, find_findings, risk_findings
from cockpit.triage.incidents import build_incidents


def fresh(snap: Snapshot) -> Snapshot:
    return Snapshot(**{f: getattr(snap, f) for f in Snapshot.__dataclass_fields__})


def triage(snap: Snapshot, risks: list | None = None) -> tuple[int, int]:
    facts = facts_of(snap, 1_800_000_000.0)
    found = find_findings(snap, facts=facts, risks=risks)
    return len(found), len(build_incidents(snap, found, facts))


def host_off(snap: Snapshot, host: str) -> Snapshot:
    hosts = tuple(replace(h, online=False) if h.name == host else h for h in snap.hosts)
    guests = tuple(replace(g, status="unknown") if g.host == host else g for g in snap.guests)
    dead = set(snap.nodes_by_host.get(host, ()))
    nodes = tuple(
        replace(n, conditions={**n.conditions, "Ready": "Unknown"}) if n.name in dead else n
        for n in snap.nodes
    )
    return replace(snap, hosts=hosts, guests=guests, nodes=nodes)


def timed(label: str, snap: Snapshot, repeat: int, risks: list | None = None) -> None:
    runs, result = [], (0, 0)
    for _ in range(repeat):
        s = fresh(snap)
        start = time.perf_counter()
        result = triage(s, risks)
        runs.append((time.perf_counter() - start) * 1000)
    print(
        f"{label:44} best {min(runs):7.1f} ms   median {statistics.median(runs):7.1f} ms"
        f"   ({result[0]} findings, {result[1]} incidents)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    snap = synthetic_lab(args.nodes, args.pods)
    print(f"synthetic lab: {len(snap.nodes)} nodes, {len(snap.pods)} pods")
    outage = host_off(snap, snap.hosts[0].name)
    timed("findings + incidents, quiet", snap, args.repeat)
    timed(f"findings + incidents, {snap.hosts[0].name} off", outage, args.repeat)
    # The static risks change with the configuration only: computed once, passed in.
    for label, s in (("quiet", snap), (f"{snap.hosts[0].name} off", outage)):
        risks = risk_findings(s)
        timed(f"with the risks computed once before, {label}", s, args.repeat, risks)


if __name__ == "__main__":
    main()
