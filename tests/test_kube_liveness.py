"""The Kubernetes adapter never shows frozen data as "ok": faults injected by a proxy on
loopback between the adapter and the lab's API (truncated and unparsable answers, garbage on
a watch, a 410 on the watch request, a hung or stopped API, a huge answer), each ending in a
health state with a reason and a recovery by itself once the fault ends."""

from __future__ import annotations

import copy
import json
import threading
import time

import pytest
from fault_proxy import Fault, HttpFaultProxy, Req
from waiting import wait_for

from cockpit import labfile
from cockpit.config import KubeSettings
from cockpit.lab.clock import LabClock
from cockpit.lab.kube.lab import KubeLab
from cockpit.lab.world import World
from cockpit.sources.health import SourceError
from cockpit.sources.kube import HEARTBEAT_DEADLINE, KubeSource

PODS = "/api/v1/pods"
GONE = ("logging", "kibana-284pqgsvpr-bqc45")


@pytest.fixture
def lab(tmp_path):
    world = World(labfile.load("n100"), LabClock(speed=30))
    kube = KubeLab(world).start(tmp_path / "kubeconfig")
    yield kube
    kube.stop()


@pytest.fixture
def proxy(lab):
    proxy = HttpFaultProxy(lab.face.url).start()
    yield proxy
    proxy.stop()


def through(tmp_path, lab, proxy) -> KubeSettings:
    """A kubeconfig like the lab's, with the proxy as the server."""
    text = lab.kubeconfig.read_text().replace(lab.face.url, proxy.url)
    path = tmp_path / "kubeconfig-via-proxy"
    path.write_text(text)
    return KubeSettings(str(path))


@pytest.fixture
def source(tmp_path, lab, proxy):
    src = KubeSource(through(tmp_path, lab, proxy), metrics_every=0.2)
    src.start()
    wait_for(lambda: src.health().state == "ok", what="the first sync")
    yield src
    src.stop()


def pod_list(req: Req) -> bool:
    return req.method == "GET" and req.path == PODS and not req.watch


def threads_alive(src: KubeSource) -> bool:
    return all(t.is_alive() for t in src._threads)


def test_a_truncated_list_is_an_error_and_the_watcher_lives_on(lab, proxy, source):
    proxy.rule = lambda r: Fault("truncate", keep=0.5) if pod_list(r) else None
    proxy.cut()  # every watch drops; the pods watcher must relist into the truncation
    health = wait_for(
        lambda: (h := source.health()).state != "ok" and "cut off" in h.reason and h,
        what="the truncated list in the health",
    )
    assert health.state == "stale"
    assert "GET /api/v1/pods" in health.reason and "Error" not in health.reason
    assert threads_alive(source)
    proxy.rule = None
    wait_for(lambda: source.health().state == "ok", timeout=40, what="recovery")
    # Not "ok" over frozen panes: a change made now reaches the records.
    lab.controllers.delete_pod(GONE, grace=0)
    wait_for(lambda: GONE not in source.records().pods, what="the change to arrive")


def bad_quantity(pod: dict) -> dict:
    pod = copy.deepcopy(pod)
    pod["spec"]["containers"][0].setdefault("resources", {})["requests"] = {"cpu": "12Q"}
    return pod


def test_unparsable_objects_are_skipped_and_counted(lab, proxy, tmp_path):
    def spoil(doc: dict) -> dict:
        items = doc["items"]
        items[0] = bad_quantity(items[0])
        del items[1]["metadata"]
        return doc

    proxy.rule = lambda r: Fault("mutate", change=spoil) if pod_list(r) else None
    src = KubeSource(through(tmp_path, lab, proxy))
    src.start()
    try:
        health = wait_for(lambda: (h := src.health()).state == "ok" and h, what="a sync")
        assert len(src.records().pods) == 22  # 24 less the two that did not parse
        assert "2 objects unreadable" in health.note
        assert "invalid" in health.note and "12Q" in health.note
        assert "2 objects unreadable" in health.describe(time.time())
        # An object turned unreadable by a watch event is dropped and counted too.
        proxy.rule = lambda r: (
            Fault("mutate", change=spoil_event) if r.watch and r.path == PODS else None
        )
        proxy.cut()
        wait_for(lambda: "unreadable" not in src.health().note, what="a clean relist")
        lab.controllers.delete_pod(GONE, grace=0)  # its replacement arrives spoilt
        wait_for(
            lambda: (h := src.health()).state == "ok" and "1 object unreadable" in h.note,
            what="the spoilt event counted while the rest is ok",
        )
        assert threads_alive(src)
    finally:
        src.stop()


def spoil_event(event: dict) -> dict:
    name = event["object"]["metadata"]["name"]
    if event.get("type") in ("ADDED", "MODIFIED") and name.startswith("kibana-"):
        event = {**event, "object": bad_quantity(event["object"])}
    return event


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<html><body>502 Bad Gateway", "ended in the middle of an event"),  # no newline
        (b"", "ended without sending anything"),  # a 200 that ends at once
    ],
    ids=["garbage", "empty"],
)
def test_garbage_on_a_watch_is_an_error_with_backoff(lab, proxy, source, body, said):
    def garbage(r: Req) -> Fault | None:
        if r.watch and r.path == "/api/v1/nodes":
            return Fault("garbage", body=body)
        return None

    proxy.rule = garbage
    proxy.cut()
    wait_for(lambda: source.health().state != "ok", what="the garbage to show")
    counted_from = len(proxy.faulted)
    time.sleep(3)
    tries = len(proxy.faulted) - counted_from
    assert tries <= 6, f"{tries} watch requests in 3 s: no backoff"
    health = source.health()
    assert health.state == "stale" and said in health.reason
    proxy.rule = None
    wait_for(lambda: source.health().state == "ok", timeout=40, what="recovery")


def test_a_410_on_the_watch_request_relists(lab, proxy, source):
    wait_for(lambda: proxy.count(lambda r: r.watch and r.path == PODS), what="a pods watch")
    # The server forgets history up to the next rewatch: that one and any from as far back
    # answer 410 (as the answer to the watch request, not as an event); a relist gets newer.
    forgotten: list[int] = []

    def gone(r: Req) -> Fault | None:
        if not (r.watch and r.path == PODS):
            return None
        version = int(r.query.get("resourceVersion") or 0)
        if not forgotten:
            forgotten.append(version)
        if version <= forgotten[0]:
            return Fault("status", status=410, body=b'{"kind":"Status","code":410}')
        return None

    lists_before = proxy.count(pod_list)
    proxy.rule = gone
    proxy.end_streams.set()  # watches end normally; the adapter rewatches from its version
    wait_for(lambda: proxy.faulted, what="a 410")
    proxy.end_streams.clear()
    lab.controllers.delete_pod(GONE, grace=0)  # history moves on past what was forgotten
    wait_for(lambda: GONE not in source.records().pods, what="the relist to show the change")
    assert proxy.count(pod_list) > lists_before
    wait_for(lambda: source.health().state == "ok", what="recovery")
    time.sleep(1)
    assert len(proxy.faulted) <= 3  # not the same resourceVersion forever


def test_a_hung_api_is_stale_within_the_heartbeat_deadline(lab, proxy, source):
    assert source.health().state == "ok"
    proxy.freeze()  # answers nothing, relays nothing: a SIGSTOPped API server
    frozen_at = time.monotonic()
    wait_for(lambda: source.health().state != "ok", timeout=20, what="the hang to show")
    noticed = time.monotonic() - frozen_at
    assert noticed <= 15, f"a hung API took {noticed:.1f} s to show"
    health = source.health()
    assert health.state == "stale" and "Kubernetes API" in health.reason
    assert threads_alive(source)
    lab.controllers.delete_pod(GONE, grace=0)  # happens while we cannot see it
    proxy.thaw()
    thawed_at = time.monotonic()
    wait_for(lambda: source.health().state == "ok", timeout=30, what="recovery")
    assert time.monotonic() - thawed_at <= 20
    wait_for(lambda: GONE not in source.records().pods, what="the missed change")


def test_a_stopped_api_is_not_ok(lab, tmp_path):
    src = KubeSource(KubeSettings(str(lab.kubeconfig)))
    src.start()
    try:
        wait_for(lambda: src.health().state == "ok", what="a sync")
        lab.stop()
        stopped_at = time.monotonic()
        wait_for(lambda: src.health().state != "ok", timeout=20, what="stale")
        assert time.monotonic() - stopped_at <= HEARTBEAT_DEADLINE
        # The heartbeat names the root cause, whatever the watches said first.
        health = wait_for(
            lambda: (h := src.health()) and "cannot reach the Kubernetes API" in h.reason and h,
            timeout=HEARTBEAT_DEADLINE,
            what="the heartbeat's reason",
        )
        assert health.state == "stale" and "connection refused" in health.reason
        time.sleep(1)
        assert src.health().state == "stale"  # and it stays so: nothing clears it
        assert threads_alive(src)
    finally:
        src.stop()


def test_a_bad_quantity_in_metrics_is_skipped_and_counted(lab, proxy, tmp_path):
    def spoil(doc: dict) -> dict:
        doc["items"][0]["containers"][0]["usage"]["cpu"] = "lots"
        return doc

    proxy.rule = lambda r: (
        Fault("mutate", change=spoil) if r.path == "/apis/metrics.k8s.io/v1beta1/pods" else None
    )
    src = KubeSource(through(tmp_path, lab, proxy), metrics_every=0.2)
    src.fetch_metrics()  # raised ValueError before: `report` died with "internal error"
    state = src.records()
    assert state.metrics == "present" and len(state.pod_usage) >= 20
    src.start()
    try:
        health = wait_for(lambda: (h := src.health()).state == "ok" and h, what="a sync")
        assert "1 metrics entry unreadable" in health.note and "lots" in health.note
        assert threads_alive(src)
    finally:
        src.stop()


def test_an_answer_over_the_size_cap_is_refused_with_a_clear_error(lab, proxy, tmp_path):
    proxy.rule = lambda r: Fault("huge", size=300 * 2**20) if r.path == "/api/v1/nodes" else None
    src = KubeSource(through(tmp_path, lab, proxy))
    with pytest.raises(SourceError) as info:
        src.request("GET", "/api/v1/nodes")
    assert "larger than 64 MiB" in info.value.reason
    # Without a Content-Length to refuse it up front, the cap stops the read itself.
    proxy.rule = lambda r: (
        Fault("huge", size=8 * 2**20, declare=False) if r.path == "/api/v1/nodes" else None
    )
    small = KubeSource(through(tmp_path, lab, proxy), max_body=2**20)
    with pytest.raises(SourceError, match="larger than 1 MiB"):
        small.request("GET", "/api/v1/nodes")
    proxy.rule = None
    assert small.request("GET", "/api/v1/nodes")["items"]


def test_a_kubeconfig_without_a_current_context_says_so(lab, tmp_path):
    config = json.loads(lab.kubeconfig.read_text())
    del config["current-context"]
    path = tmp_path / "no-context"
    path.write_text(json.dumps(config))
    with pytest.raises(SourceError) as info:
        KubeSource(KubeSettings(str(path))).connect()
    assert "has no current context" in info.value.reason
    assert "--context" in info.value.hint
    assert "Expected object" not in str(info.value)


def test_stop_is_prompt_even_with_watches_open(source):
    started = time.monotonic()
    stopper = threading.Thread(target=source.stop)
    stopper.start()
    stopper.join(10)
    assert time.monotonic() - started < 5


def test_a_certificate_from_another_ca_is_named_as_such(lab, tmp_path):
    """Not "is the cluster up?": the cluster answered, with a certificate the kubeconfig's
    CA did not sign (a rebuilt cluster, or someone in between)."""
    from proxmox_helpers import start_lab

    from cockpit.lab.tls import make_lab_tls

    pve = start_lab(labfile.load("n100"), make_lab_tls(tmp_path / "server-tls"))
    other = make_lab_tls(tmp_path / "other-ca")
    config = json.loads(lab.kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    cluster["server"] = f"https://127.0.0.1:{pve.face.port}"
    cluster.pop("insecure-skip-tls-verify", None)
    cluster["certificate-authority"] = str(other.ca_file)
    path = tmp_path / "kubeconfig-tls"
    path.write_text(json.dumps(config))
    try:
        with pytest.raises(SourceError) as info:
            KubeSource(KubeSettings(str(path))).request("GET", "/version", timeout=3)
    finally:
        pve.face.stop()
    assert "certificate the kubeconfig's CA does not trust" in info.value.reason
    assert "is the cluster up" not in info.value.hint
    assert "fresh kubeconfig" in info.value.hint
