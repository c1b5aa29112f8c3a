"""What `kubectl logs` reads from the lab: plausible lines per workload, on the lab clock.

A container's log is a pure function of the pod, the container and the time: one line every
few lab seconds from the container's start, worded like the program the workload runs
(CoreDNS query lines, a web server's access log, a database's checkpoints ...). The
previous container's log is the same up to its finishedAt, followed by the lines its image
ends with (an exec format error, a panic). The apiserver's refusals are the real ones:
a container that has not started, a previous container that does not exist, a node whose
kubelet cannot be reached.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from cockpit.lab.kube.store import ApiError

MAX_LINES = 2000  # what one request may return at most (the kubelet rotates anyway)

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "coredns": (
        '[INFO] {ip}:{port} - {id} "A IN {host}. udp 40 false 512" NOERROR qr,rd,ra 56 {ms}ms',
        '[INFO] {ip}:{port} - {id} "AAAA IN {host}. udp 40 false 512" NOERROR qr,aa,rd 137 '
        "0.000{id3}s",
    ),
    "metrics-server": (
        'I{mmdd} {hms}.{us}       1 scraper.go:147] "Scraping metrics from nodes" nodes={n}',
    ),
    "traefik": ('{ip} - - [{clf}] "GET /{path} HTTP/1.1" 200 {size} "-" "-" {id} "web" 3ms',),
    "postgres": (
        "{iso} UTC [{id}] LOG:  checkpoint starting: time",
        "{iso} UTC [{id}] LOG:  checkpoint complete: wrote {n} buffers (0.{id3}%)",
    ),
    "redis": ("1:M {redis} * {n} changes in 60 seconds. Saving...", "1:M {redis} * DB saved"),
}
_GENERIC = (
    'time="{iso}" level=info msg="request handled" method=GET path=/{path} status=200 '
    "duration={ms}ms",
    'time="{iso}" level=info msg="healthz ok"',
)
_PATHS = ("", "api/v1/status", "healthz", "notes", "timeline/home", "metrics")
_HOSTS = (
    "kubernetes.default.svc.cluster.local",
    "pg-cluster-rw.yodangang.svc.cluster.local",
    "github.com",
    "registry-1.docker.io",
    "redis-node.yodangang.svc.cluster.local",
)


def _templates(app: str, image: str) -> tuple[str, ...]:
    for key, lines in _TEMPLATES.items():
        if key in app or key in image:
            return lines
    return _GENERIC


def _number(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "big")


def _line(template: str, seed: int, ts: float, pod_ip: str) -> str:
    t = datetime.fromtimestamp(ts, UTC)
    return template.format(
        ip=pod_ip or "10.42.0.1",
        port=30000 + seed % 30000,
        id=seed % 65535,
        id3=seed % 1000,
        host=_HOSTS[seed % len(_HOSTS)],
        ms=seed % 40 + 1,
        mmdd=t.strftime("%m%d"),
        hms=t.strftime("%H:%M:%S"),
        us=f"{t.microsecond:06d}",
        n=seed % 500 + 1,
        clf=t.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        path=_PATHS[seed % len(_PATHS)],
        size=seed % 9000 + 200,
        iso=t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        redis=t.strftime("%d %b %Y %H:%M:%S.%f")[:-3],
    )


def _period(app: str) -> float:
    return 2.0 + _number("period", app) % 9


def generate(
    pod_name: str, app: str, image: str, pod_ip: str, start: float, end: float
) -> list[tuple[float, str]]:
    """(time, line) pairs from start to end: a start-up line, then one every few seconds."""
    templates = _templates(app, image)
    step = _period(app)
    first = start + 0.5
    out = [(first, f"starting {app or pod_name} ({image})")]
    count = int((end - first) // step)
    begin = max(1, count - MAX_LINES)
    for i in range(begin, count + 1):
        ts = first + i * step
        seed = _number(pod_name, int(ts))
        out.append((ts, _line(templates[seed % len(templates)], seed, ts, pod_ip)))
    return out


def _time(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def container_log(
    pod: dict, container: str, previous: bool, now: float, tail: tuple[str, ...] = ()
) -> list[tuple[float, str]]:
    """The lines `kubectl logs` shows for a container (the previous one with --previous),
    or the apiserver's refusal as an ApiError."""
    name = pod["metadata"]["name"]
    spec = {c["name"]: c for c in pod.get("spec", {}).get("containers", [])}
    if container not in spec:
        raise ApiError(
            400,
            "BadRequest",
            f"container {container} is not valid for pod {name}",
        )
    statuses = {cs["name"]: cs for cs in pod.get("status", {}).get("containerStatuses") or []}
    cs = statuses.get(container)
    app = (pod["metadata"].get("labels") or {}).get("app.kubernetes.io/name", name)
    image = spec[container].get("image", "")
    pod_ip = pod.get("status", {}).get("podIP", "")
    if previous:
        last = (cs or {}).get("lastState", {}).get("terminated")
        if not last:
            raise ApiError(
                400,
                "BadRequest",
                f'previous terminated container "{container}" in pod "{name}" not found',
            )
        start = _time(last.get("startedAt")) or now
        end = _time(last.get("finishedAt")) or now
        lines = generate(name, app, image, pod_ip, start, end)
        return lines + [(end, text) for text in tail]
    state = (cs or {}).get("state", {})
    if "running" in state:
        start = _time(state["running"].get("startedAt")) or now
        return generate(name, app, image, pod_ip, start, now)
    if "terminated" in state:
        start = _time(state["terminated"].get("startedAt")) or now
        end = _time(state["terminated"].get("finishedAt")) or now
        return generate(name, app, image, pod_ip, start, end) + [(end, t) for t in tail]
    waiting = (state.get("waiting") or {}).get("reason", "ContainerCreating")
    if waiting == "CrashLoopBackOff" and (cs or {}).get("lastState", {}).get("terminated"):
        # What kubectl shows for a crash-looping container: the last run's output.
        return container_log(pod, container, True, now, tail)
    raise ApiError(
        400,
        "BadRequest",
        f'container "{container}" in pod "{name}" is waiting to start: {waiting}',
    )


def render(lines: list[tuple[float, str]], timestamps: bool) -> list[str]:
    if not timestamps:
        return [f"{text}\n" for _, text in lines]
    return [
        f"{datetime.fromtimestamp(ts, UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')} {text}\n"
        for ts, text in lines
    ]
