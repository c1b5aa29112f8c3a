"""The core must import without Textual (and without the heavy kubernetes client), so the
engine, CLI and adapters stay usable and fast without the UI."""

import subprocess
import sys

CORE = [
    "cockpit.cli",
    "cockpit.model",
    "cockpit.units",
    "cockpit.labfile",
    "cockpit.cli.jsonout",
    "cockpit.cli.present",
    "cockpit.cli.report",
    "cockpit.config",
    "cockpit.inventory",
    "cockpit.topology",
    "cockpit.relations",
    "cockpit.alloc.ledger",
    "cockpit.alloc.whatif",
    "cockpit.alloc.risks",
    "cockpit.alloc.scheduler",
    "cockpit.alloc.thresholds",
    "cockpit.sources.kube",
    "cockpit.sources.kube_parse",
    "cockpit.sources.proxmox",
    "cockpit.sources.tailscale",
    "cockpit.lab.runner",
    "cockpit.ui.rows",
]


def test_core_never_imports_textual_or_the_kubernetes_client():
    code = (
        f"import sys\nfor m in {CORE!r}: __import__(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'kubernetes'))\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
