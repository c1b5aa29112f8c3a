"""What the operator is told when a source or an action fails: at once and with the real
reason (a Proxmox 401 is not "no answer yet"), and what a half-done drain left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from fault_proxy import Fault, HttpFaultProxy, Req
from live_lab import action_context, live_lab

from cockpit.actions.base import perform
from cockpit.actions.drain import Drain
from cockpit.actions.journal import Journal
from cockpit.config import KubeSettings
from cockpit.sources.kube import KubeSource

REPO = Path(__file__).resolve().parents[1]


def cockpit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_an_action_fails_at_once_when_proxmox_refuses_the_token(tmp_path):
    with live_lab("n100", 30, tmp_path / "lab") as (lab, _inventory):
        secret = lab.dir / "pve.secret"
        real = secret.read_text()
        secret.write_text("0" * 32 + "\n")  # a wrong token secret: PVE answers 401
        try:
            started = time.monotonic()
            done = cockpit("--config", str(lab.config_path), "cordon", "worker-1", "--plan")
            took = time.monotonic() - started
        finally:
            secret.write_text(real)
    assert done.returncode != 0
    assert "authentication failed" in done.stderr and "401" in done.stderr
    assert "no answer yet" not in done.stderr
    assert "0" * 32 not in done.stderr + done.stdout  # the secret is not echoed
    assert took < 20, f"{took:.0f} s (it waited out --sync-timeout before)"


def test_a_drain_that_fails_midway_says_it_left_the_node_cordoned_and_partly_drained(tmp_path):
    with live_lab("n100", 40, tmp_path / "lab") as (lab, inventory):
        proxy = HttpFaultProxy(lab.kube.face.url).start()
        evictions: list[Req] = []

        def fail_after_one(r: Req) -> Fault | None:
            if r.method == "POST" and r.path.endswith("/eviction"):
                evictions.append(r)
                if len(evictions) > 1:  # the API falls over after the first eviction
                    body = b'{"kind":"Status","code":500,"message":"etcdserver: timed out"}'
                    return Fault("status", status=500, body=body)
            return None

        proxy.rule = fail_after_one
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(lab.kube.kubeconfig.read_text().replace(lab.kube.face.url, proxy.url))
        try:
            kube = KubeSource(KubeSettings(str(kubeconfig)))
            journal = Journal(tmp_path / "state" / "journal.jsonl")
            ctx = action_context(inventory, journal, kube=kube, retry_every=0.2)
            action = Drain(ctx, "worker-1", delete_emptydir_data=True)
            outcome = perform(action, action.plan())
        finally:
            proxy.stop()
    assert outcome.status == "failed"
    assert "etcdserver: timed out" in outcome.message
    assert "left cordoned and partly drained" in outcome.message
    assert "1 of " in outcome.message and "pod(s) evicted" in outcome.message
    assert "`cockpit uncordon worker-1`" in outcome.message
