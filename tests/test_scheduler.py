from builders import node, pod

from cockpit.alloc.scheduler import Scheduler, fit_error
from cockpit.model import AffinityTerm, LabelSelector, SpreadConstraint, Taint, Toleration

HOST = "kubernetes.io/hostname"


def place(nodes, bound, queue):
    return Scheduler(nodes, bound).run(queue)


def test_fits_where_requests_allow_and_prefers_the_emptier_node():
    nodes = [node("a", "2", "4Gi"), node("b", "2", "4Gi")]
    bound = [pod("big-1", "a", "1", "3Gi", app="big")]
    result = place(nodes, bound, [pod("web-1", None, "500m", "1Gi")])
    assert result.placed == {("default", "web-1"): "b"}


def test_insufficient_memory_is_reported_like_the_scheduler():
    nodes = [node("a", "2", "1Gi"), node("b", "2", "1Gi", unschedulable=True)]
    result = place(nodes, [], [pod("web-1", None, "100m", "2Gi")])
    assert result.pending[("default", "web-1")] == (
        "0/2 nodes are available: 1 Insufficient memory, 1 node(s) were unschedulable."
    )


def test_too_many_pods():
    n = node("a", "4", "4Gi", pods_allocatable=1)
    result = place([n], [pod("x-1", "a", None, None)], [pod("y-1", None)])
    assert "1 Too many pods" in result.pending[("default", "y-1")]


def test_taints_need_tolerations():
    tainted = node("cp", taints=(Taint("node-role.kubernetes.io/control-plane", "NoSchedule"),))
    plain = pod("a-1")
    tolerant = pod(
        "b-1", tolerations=(Toleration("node-role.kubernetes.io/control-plane", "Exists"),)
    )
    result = place([tainted], [], [plain, tolerant])
    assert ("default", "a-1") in result.pending
    assert (
        "untolerated taint {node-role.kubernetes.io/control-plane: }"
        in result.pending[("default", "a-1")]
    )
    assert result.placed[("default", "b-1")] == "cp"


def test_prefer_no_schedule_is_not_a_filter():
    soft = node("a", taints=(Taint("x", "PreferNoSchedule"),))
    assert place([soft], [], [pod("p-1")]).placed


def test_not_ready_node_gets_the_lifecycle_taint():
    result = place([node("a", ready=False)], [], [pod("p-1")])
    assert "{node.kubernetes.io/unreachable: }" in result.pending[("default", "p-1")]


def test_node_selector_on_arch():
    nodes = [node("pi", arch="arm64"), node("x86", arch="amd64")]
    p = pod("p-1", node_selector={"kubernetes.io/arch": "arm64"})
    assert place(nodes, [], [p]).placed[("default", "p-1")] == "pi"
    only_riscv = pod("q-1", node_selector={"kubernetes.io/arch": "riscv64"})
    assert (
        "2 node(s) didn't match Pod's node affinity/selector"
        in place(nodes, [], [only_riscv]).pending[("default", "q-1")]
    )


def test_required_anti_affinity_on_hostname():
    term = (AffinityTerm(LabelSelector({"app": "db"}), HOST),)
    nodes = [node("a"), node("b")]
    queue = [pod(f"db-{i}", app="db", anti_affinity=term) for i in range(3)]
    result = place(nodes, [], queue)
    assert sorted(result.placed.values()) == ["a", "b"]
    pending = result.pending[("default", "db-2")]
    assert "2 node(s) didn't match pod anti-affinity rules" in pending


def test_existing_pods_anti_affinity_is_symmetric():
    term = (AffinityTerm(LabelSelector({"app": "web"}), HOST),)
    # The loner refuses to share a node with web pods; a web pod must respect that.
    loner = pod("loner-1", "a", app="loner", anti_affinity=term)
    result = place([node("a")], [loner], [pod("web-1", app="web")])
    assert (
        "didn't satisfy existing pods anti-affinity rules" in result.pending[("default", "web-1")]
    )


def test_topology_spread_do_not_schedule():
    spread = (SpreadConstraint(1, "zone", "DoNotSchedule", LabelSelector({"app": "web"})),)
    nodes = [
        node("a", labels={"zone": "z1"}),
        node("b", labels={"zone": "z1"}),
        node("c", labels={"zone": "z2"}, unschedulable=True),
    ]
    bound = [pod("web-0", "a", app="web", spread=spread)]
    # z2 exists (its node matches the pod's node selection) with 0 pods: a second pod in z1
    # would make the skew 2, and z2's only node is cordoned, so it cannot go anywhere.
    result = place(nodes, bound, [pod("web-1", app="web", spread=spread)])
    assert "didn't match pod topology spread constraints" in result.pending[("default", "web-1")]
    schedule_anyway = (
        SpreadConstraint(1, "zone", "ScheduleAnyway", LabelSelector({"app": "web"})),
    )
    assert place(nodes, bound, [pod("web-2", app="web", spread=schedule_anyway)]).placed


def test_preemption_evicts_the_fewest_least_important_pods():
    nodes = [node("a", "4", "4Gi")]
    bound = [
        pod("low-1", "a", "100m", "1Gi", app="low", priority=10),
        pod("lower-1", "a", "100m", "1Gi", app="lower", priority=5),
        pod("mid-1", "a", "100m", "2Gi", app="mid", priority=50),
    ]
    high = pod("high-1", None, "100m", "1Gi", app="high", priority=100)
    result = place(nodes, bound, [high])
    assert result.placed[("default", "high-1")] == "a"
    victims = [(p.victim.name, p.by.name) for p in result.preempted]
    assert victims == [("lower-1", "high-1")]
    # The victim rejoins the queue and, finding no room, stays Pending.
    assert ("default", "lower-1") in result.pending


def test_no_preemption_when_policy_is_never_or_priority_is_not_higher():
    nodes = [node("a", "4", "1Gi")]
    bound = [pod("low-1", "a", "100m", "1Gi", app="low", priority=10)]
    never = pod("n-1", None, "100m", "1Gi", priority=100, preemption_policy="Never")
    same = pod("s-1", None, "100m", "1Gi", priority=10)
    result = place(nodes, bound, [never, same])
    assert not result.preempted
    assert set(result.pending) == {("default", "n-1"), ("default", "s-1")}


def test_queue_order_is_priority_first():
    nodes = [node("a", "4", "1Gi")]
    low = pod("low-1", None, "100m", "1Gi", priority=1, created=1)
    high = pod("high-1", None, "100m", "1Gi", priority=9, created=2)
    result = place(nodes, [], [low, high])
    assert result.placed == {("default", "high-1"): "a"}


def test_replicas_spread_over_nodes_before_packing():
    nodes = [node("a", "8", "16Gi"), node("b", "8", "16Gi")]
    queue = [pod(f"web-{i}", app="web") for i in range(4)]
    placed = place(nodes, [], queue).placed
    assert sorted(placed.values()) == ["a", "a", "b", "b"]


def test_fit_error_sorts_like_kube_scheduler():
    reasons = {
        "a": "Insufficient memory",
        "b": "Insufficient cpu, Insufficient memory",
        "c": "node(s) were unschedulable",
    }
    assert fit_error(3, reasons) == (
        "0/3 nodes are available: 1 Insufficient cpu, "
        "1 node(s) were unschedulable, 2 Insufficient memory."
    )
