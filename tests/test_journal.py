"""The action journal: written ahead and fsynced, readable after a crash, resumable without
repeating a step, fatal to the action when it cannot be written, and free of secrets."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_lab import action_context, live_lab
from rich.console import Console

from cockpit.actions.base import Context, abandon, perform, resume
from cockpit.actions.drain import Cordon, Drain
from cockpit.actions.journal import Journal, JournalError
from cockpit.cli import actions as shell
from cockpit.config import load_config
from cockpit.inventory import Inventory
from cockpit.lab.runner import RunningLab
from cockpit.secret import Secret
from cockpit.sources.kube import KubeSource

NODES = "nodes"
COCKPIT = (sys.executable, "-m", "cockpit")


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[RunningLab, Inventory]]:
    with live_lab("tailnet", 40, tmp_path_factory.mktemp("journal-lab")) as pair:
        yield pair


def context(inventory: Inventory, journal: Journal, kube: Any = None) -> Context:
    return action_context(inventory, journal, kube, retry_every=0.2)


def sent_since(running: RunningLab, before: Counter) -> Counter:
    now = Counter(running.kube.api.mutations)
    now.subtract(before)
    return Counter({k: v for k, v in now.items() if v})


# --- written ahead, durably -----------------------------------------------------------------------


class Witness(KubeSource):
    """The real adapter (its own connection, the same kubeconfig), with one look at the
    journal file before each mutating request leaves."""

    def __init__(self, kube: KubeSource, path: Path) -> None:
        super().__init__(kube.settings)
        self.path = path
        self.seen: list[tuple[str, str, dict]] = []

    def request(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method != "GET":
            lines = self.path.read_bytes().splitlines()  # a fresh read of the file
            self.seen.append((method, path, json.loads(lines[-1])))
        return super().request(method, path, *args, **kwargs)


def test_each_step_is_on_disk_before_its_request_is_sent(lab, tmp_path):
    _, inventory = lab
    journal = Journal(tmp_path / "journal.jsonl")
    witness = Witness(inventory.kube, journal.path)
    action = Drain(context(inventory, journal, witness), "x86-vm-1", delete_emptydir_data=True)
    outcome = perform(action, action.plan())
    assert outcome.status == "succeeded", outcome.message
    assert len(witness.seen) == 5  # the cordon and four evictions
    for method, path, last in witness.seen:
        assert last["event"] == "begin", (method, path, last)
        name = path.removesuffix("/eviction").rsplit("/", 1)[1]
        assert f"/{name} uid=" in last["step"], (path, last["step"])


def test_every_line_is_fsynced_before_write_returns(tmp_path, monkeypatch):
    synced: list[tuple[str, int]] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    journal = Journal(tmp_path / "state" / "cockpit" / "journal.jsonl")
    for n in range(3):
        journal.write({"id": "a", "event": "note", "text": f"line {n}"})
        # This very line was synced (the file had reached its size) before write returned.
        assert (str(journal.path), journal.path.stat().st_size) in synced
    files = [s for s in synced if s[0] == str(journal.path)]
    assert len(files) == 3
    # The new file's name is made durable too, once, when it is created.
    assert [s[0] for s in synced].count(str(journal.path.parent)) == 1


# --- reading after a crash ------------------------------------------------------------------------


def test_a_torn_last_line_and_foreign_lines_are_skipped(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.write({"id": "a", "event": "start", "action": "drain", "target": "node/n1"})
    journal.write({"id": "a", "event": "begin", "step": "cordon node/n1"})
    with journal.path.open("a") as raw:
        raw.write("not json at all\n")
        raw.write(json.dumps({"v": 99, "id": "a", "event": "end"}) + "\n")
    journal.write({"id": "a", "event": "done", "step": "cordon node/n1", "result": {}})
    journal.write({"id": "a", "event": "begin", "step": "evict pod/ns/p1"})
    with journal.path.open("a") as raw:  # the crash: half of the next line
        raw.write('{"v":1,"id":"a","event":"done","step":"evict po')
    assert [e["event"] for e in journal.entries()] == ["start", "begin", "done", "begin"]
    [record] = journal.unfinished()
    assert record.done == {"cordon node/n1": {}}
    assert record.in_flight == {"evict pod/ns/p1"}


def test_a_line_written_after_a_torn_one_is_readable(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.write({"id": "a", "event": "start", "action": "drain", "target": "node/n1"})
    with journal.path.open("a") as raw:
        raw.write('{"v":1,"id":"a","event":"be')
    journal.write({"id": "a", "event": "end", "status": "succeeded"})
    assert journal.unfinished() == []


def test_unfinished_actions_are_the_started_and_never_ended(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    for action_id in ("ended", "crashed", "resumed"):
        journal.write({"id": action_id, "event": "start", "action": "cordon", "target": "n"})
    journal.write({"id": "ended", "event": "end", "status": "succeeded"})
    journal.write({"id": "resumed", "event": "end", "status": "failed"})
    journal.write({"id": "resumed", "event": "resume"})  # open again until it ends
    journal.write({"id": "orphan", "event": "begin", "step": "x"})  # its start was lost
    assert sorted(r.id for r in journal.unfinished()) == ["crashed", "resumed"]
    assert {r.id: r.status for r in journal.records()}["ended"] == "succeeded"
    [crashed] = [r for r in journal.unfinished() if r.id == "crashed"]
    abandon(crashed, journal)
    assert [r.id for r in journal.unfinished()] == ["resumed"]


class Crash(Exception):
    """The process dies here (as with kill -9: no handler, no end line)."""


def test_resume_skips_done_steps_and_rechecks_the_one_in_flight(lab, tmp_path):
    running, inventory = lab
    journal = Journal(tmp_path / "journal.jsonl")
    ctx = context(inventory, journal)
    action = Drain(ctx, "x86-vm-2", delete_emptydir_data=True)
    plan = action.plan()
    # It dies as it is about to evict a pod no budget guards (after at least one eviction).
    target = next(
        f"{e['namespace']}/{e['name']}" for e in plan.detail["evict"][1:] if e["pdb"] is None
    )

    def dies_before_evicting_the_target(line: str) -> None:
        if line.startswith(f"evict pod {target}"):
            raise Crash(line)

    with pytest.raises(Crash):
        perform(action, plan, dies_before_evicting_the_target)
    [record] = journal.unfinished()
    [in_flight] = record.in_flight
    assert in_flight.startswith(f"evict pod/{target} uid=")
    assert any(k.startswith("cordon ") for k in record.done)
    assert sum(k.startswith("evict ") for k in record.done) >= 1
    # The crash came after the begin line: say the request had gone out. The pod goes.
    namespace, name = in_flight.split(" ")[1].removeprefix("pod/").split("/")
    inventory.kube.evict(namespace, name)
    before = Counter(running.kube.api.mutations)

    outcome = resume(record, ctx)

    assert outcome.status == "succeeded", outcome.message
    sent = sent_since(running, before)
    assert not any(k.startswith("PATCH") for k in sent)  # the cordon was done
    for key in record.done:
        if key.startswith("evict "):
            done_pod = key.split(" ")[1].removeprefix("pod/")
            assert not any(f"/{done_pod.split('/')[1]}/eviction" in k for k in sent), key
    assert not any(f"/{name}/eviction" in k for k in sent)  # in flight, found on its way out
    [final] = [r for r in journal.records() if r.id == record.id]
    assert final.done[in_flight]["sent"] is False
    assert final.status == "succeeded"


# --- a journal that cannot be written ---------------------------------------------------------


def test_no_journal_no_action(lab, tmp_path):
    running, inventory = lab
    (tmp_path / "journal.jsonl").mkdir()  # the path is a directory: nothing can be appended
    ctx = context(inventory, Journal(tmp_path / "journal.jsonl"))
    action = Cordon(ctx, "rpi5-kr1")
    plan = action.plan()
    before = Counter(running.kube.api.mutations)
    with pytest.raises(JournalError, match="cannot write the action journal"):
        perform(action, plan)
    assert sent_since(running, before) == Counter()
    assert not running.kube.store.get(NODES, ("", "rpi5-kr1"))["spec"].get("unschedulable")

    # From the shell: XDG_STATE_HOME is a file, so the journal's directory cannot exist.
    (tmp_path / "state").write_text("")
    env = {"PATH": os.environ.get("PATH", ""), "XDG_STATE_HOME": str(tmp_path / "state")}
    result = subprocess.run(
        [*COCKPIT, "--config", str(running.config_path), "cordon", "rpi5-kr1", "--yes"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "HOME": str(tmp_path), "COLUMNS": "200"},
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot write the action journal" in result.stderr
    assert "nothing was sent" in result.stderr and "Traceback" not in result.stderr
    assert sent_since(running, before) == Counter()


def test_a_journal_lost_mid_action_stops_it(lab, tmp_path):
    running, inventory = lab
    journal = Journal(tmp_path / "journal.jsonl")
    ctx = context(inventory, journal)
    action = Drain(ctx, "rpi5-kr2", force=True, delete_emptydir_data=True)
    plan = action.plan()
    assert len(plan.detail["evict"]) >= 2

    def disk_goes_away(line: str) -> None:
        if line.startswith("evict pod ") and journal.path.is_file():
            journal.path.rename(tmp_path / "moved.jsonl")
            journal.path.mkdir()

    before = Counter(running.kube.api.mutations)
    outcome = perform(action, plan, disk_goes_away)
    assert outcome.status == "failed" and "cannot write the action journal" in outcome.message
    sent = sent_since(running, before)
    # The eviction whose begin was on disk went out; nothing after it did.
    assert sent["PATCH /api/v1/nodes/rpi5-kr2"] == 1
    assert sum(n for k, n in sent.items() if k.endswith("/eviction")) == 1
    assert sum(sent.values()) == 2


# --- secrets ------------------------------------------------------------------------------------


def test_secrets_are_scrubbed_from_every_value(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl", secrets=[Secret("tok-123"), Secret("")])
    journal.write(
        {
            "id": "a",
            "event": "note",
            "text": "401 for Bearer tok-123",
            "nested": {"list": ["x tok-123 y", 3], "secret": Secret("other-456")},
        }
    )
    text = journal.path.read_text()
    assert "tok-123" not in text and "other-456" not in text
    [entry] = journal.entries()
    assert entry["text"] == "401 for Bearer ***" and entry["nested"]["secret"] == "***"


def test_the_labs_tokens_never_reach_the_journal(lab, tmp_path):
    running, _ = lab
    pve_token = running.secret.reveal()
    kube_token = json.loads(running.kube.kubeconfig.read_text())["users"][0]["user"]["token"]
    config = load_config(running.config_path)
    # The journal the shell builds knows both tokens, however they come to be in a line.
    with shell._connected(config, 30, Console(file=io.StringIO())) as ctx:
        ctx.journal.path = tmp_path / "probe.jsonl"
        ctx.journal.write({"event": "note", "text": f"{pve_token} {kube_token}"})
    probe = (tmp_path / "probe.jsonl").read_text()
    assert pve_token not in probe and kube_token not in probe

    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "COLUMNS": "200",
    }
    output = ""
    for command in ("cordon", "uncordon"):
        result = subprocess.run(
            [*COCKPIT, "--config", str(running.config_path), command, "rpi5-home", "--yes"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        output += result.stdout + result.stderr
    journal = (tmp_path / "state" / "cockpit" / "journal.jsonl").read_text()
    assert '"status":"succeeded"' in journal
    for token in (pve_token, kube_token):
        assert token not in journal and token not in output
