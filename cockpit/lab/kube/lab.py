"""The lab's Kubernetes side assembled: store, controllers, API and its HTTP face."""

from __future__ import annotations

from pathlib import Path

from cockpit.lab.kube.api import KubeApi
from cockpit.lab.kube.controllers import Controllers
from cockpit.lab.kube.face import KubeFace
from cockpit.lab.kube.seed import seed
from cockpit.lab.kube.store import Store, copy_obj
from cockpit.lab.world import World


class KubeLab:
    def __init__(self, world: World, metrics: bool = True) -> None:
        self.world = world
        self.store = Store(world.clock.now)
        self.controllers = Controllers(self.store, world)
        self.controllers.metrics_enabled = metrics
        self.api = KubeApi(self.store, world.clock.now, self.controllers)
        self.face = KubeFace(self.api)
        seed(self.store, self.controllers, world.lab.snapshot, world.clock.now(), world.lab.distro)
        # What each kubelet registers, should its Node object be deleted while it runs.
        self.controllers.kubelet_nodes = {
            n["metadata"]["name"]: copy_obj(n) for n in self.store.items("nodes")
        }
        if not metrics:
            self.api.disable_metrics()

    def start(self, kubeconfig: Path) -> KubeLab:
        self.controllers.reconcile()  # settle once before anyone looks
        self.controllers.start()
        self.face.start()
        self.kubeconfig = self.face.write_kubeconfig(kubeconfig)
        return self

    def stop(self) -> None:
        self.face.stop()
        self.controllers.stop()

    def __enter__(self) -> KubeLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
