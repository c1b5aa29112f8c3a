from dataclasses import replace

from builders import pod, res

from cockpit.model import (
    UNSET,
    Container,
    LabelSelector,
    OwnerRef,
    Pdb,
    Pod,
    Requirement,
    Resources,
    Taint,
    Toleration,
    workload_key_of,
)

MI = 2**20


def make(containers=(), init=(), overhead=UNSET) -> Pod:
    return Pod(
        "ns", "p", containers=tuple(containers), init_containers=tuple(init), overhead=overhead
    )


def test_requests_sum_app_containers():
    p = make([Container("a", requests=res("100m", "64Mi")), Container("b", requests=res("250m"))])
    assert p.requests == Resources(350, 64 * MI)


def test_requests_take_the_largest_init_container_when_it_is_bigger():
    p = make(
        [Container("a", requests=res("100m", "64Mi"))],
        [Container("i1", requests=res("500m", "32Mi")), Container("i2", requests=res("1"))],
    )
    assert p.requests == Resources(1000, 64 * MI)


def test_sidecar_init_containers_add_to_apps_and_to_later_inits():
    sidecar = Container("proxy", requests=res("50m", "16Mi"), restart_policy="Always")
    later_init = Container("migrate", requests=res("1", "16Mi"))
    p = make([Container("a", requests=res("100m", "64Mi"))], [sidecar, later_init])
    # apps + sidecar = 150m/80Mi; the init after the sidecar runs beside it: 1050m/32Mi
    assert p.requests == Resources(1050, 80 * MI)


def test_overhead_is_added():
    p = make([Container("a", requests=res("100m", "64Mi"))], overhead=res("10m", "8Mi"))
    assert p.requests == Resources(110, 72 * MI)


def test_unset_limits_stay_unset():
    p = make([Container("a", requests=res("100m"))])
    assert p.limits == Resources(None, None)


def test_qos_classes():
    assert make([Container("a")]).qos == "BestEffort"
    assert (
        make([Container("a", requests=res("1", "1Gi"), limits=res("1", "1Gi"))]).qos == "Guaranteed"
    )
    # A limit alone means request = limit: still Guaranteed.
    assert make([Container("a", limits=res("1", "1Gi"))]).qos == "Guaranteed"
    assert (
        make([Container("a", requests=res("1", "1Gi"), limits=res("2", "1Gi"))]).qos == "Burstable"
    )
    assert make([Container("a", requests=res("100m"))]).qos == "Burstable"
    # A BestEffort init container does not spoil a Guaranteed pod, but a partial one does.
    guaranteed = Container("a", requests=res("1", "1Gi"), limits=res("1", "1Gi"))
    assert make([guaranteed], [Container("i", requests=res("1"))]).qos == "Burstable"


def test_label_selector_semantics():
    labels = {"app": "web", "tier": "front"}
    assert LabelSelector().matches(labels)
    assert LabelSelector({"app": "web"}).matches(labels)
    assert not LabelSelector({"app": "db"}).matches(labels)
    assert LabelSelector(match_expressions=(Requirement("tier", "In", ("front", "x")),)).matches(
        labels
    )
    assert not LabelSelector(match_expressions=(Requirement("tier", "NotIn", ("front",)),)).matches(
        labels
    )
    assert LabelSelector(match_expressions=(Requirement("zone", "DoesNotExist"),)).matches(labels)
    assert not LabelSelector(match_expressions=(Requirement("zone", "Exists"),)).matches(labels)
    assert Requirement("n", "Gt", ("3",)).matches({"n": "4"})
    assert not Requirement("n", "Lt", ("3",)).matches({"n": "x"})


def test_tolerations():
    taint = Taint("dedicated", "NoSchedule", "gpu")
    assert Toleration("dedicated", "Equal", "gpu").tolerates(taint)
    assert not Toleration("dedicated", "Equal", "cpu").tolerates(taint)
    assert Toleration("dedicated", "Exists").tolerates(taint)
    assert not Toleration("dedicated", "Exists", effect="NoExecute").tolerates(taint)
    assert Toleration("", "Exists").tolerates(taint)  # tolerates everything


def test_pdb_desired_healthy_rounds_percentages_up():
    sel = LabelSelector({"app": "x"})
    assert Pdb("ns", "a", sel, min_available=2).desired_healthy(3) == 2
    assert Pdb("ns", "a", sel, min_available="50%").desired_healthy(3) == 2
    assert Pdb("ns", "a", sel, max_unavailable=1).desired_healthy(3) == 2
    assert Pdb("ns", "a", sel, max_unavailable="34%").desired_healthy(3) == 1
    assert Pdb("ns", "a", sel).desired_healthy(3) == 0


def test_workload_of_a_pod_uses_the_template_hash():
    p = replace(
        pod("my-app-x", "n", owner=None),
        owner=OwnerRef("ReplicaSet", "my-app-7d9f"),
        labels={"pod-template-hash": "7d9f"},
    )
    assert workload_key_of(p) == ("Deployment", "default", "my-app")
    assert workload_key_of(pod("db-0", "n", owner="StatefulSet/db")) == (
        "StatefulSet",
        "default",
        "db",
    )
    assert workload_key_of(pod("x", "n", owner=None)) is None
    assert workload_key_of(pod("j", "n", owner="Job/backup")) is None
