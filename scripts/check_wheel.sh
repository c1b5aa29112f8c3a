#!/usr/bin/env bash
# The cockpit as a user installs it: build the wheel, install it in a clean virtualenv (not
# editable, run from outside the checkout so only the installed package can be imported),
# then run `cockpit plan n100`, check that every shipped theme came along, and run
# `cockpit demo` in tmux until its panes show live sources. Called by .ci/run.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
pip="${PIP:-$repo/.venv/bin/pip}"
work="$(mktemp -d)"
session="cockpit-wheel-$$"
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$pip" wheel -q --no-deps -w "$work/dist" "$repo"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/dist/homelab_cockpit-*.whl
cd "$work"
export HOME="$work" XDG_CONFIG_HOME="$work/config" XDG_STATE_HOME="$work/state"

"$work/venv/bin/cockpit" plan n100 >"$work/plan.txt"
grep -q "1.56x" "$work/plan.txt" || { echo "plan n100: no 1.56x"; cat "$work/plan.txt"; exit 1; }

themes="$("$work/venv/bin/python" -c '
import cockpit
from cockpit.ui.themes import load_themes
assert "site-packages" in cockpit.__file__, cockpit.__file__
print(" ".join(sorted(load_themes().names)))')"
[ "$themes" = "ansi16 dark light" ] || { echo "themes in the wheel: $themes"; exit 1; }

tmux new-session -d -s "$session" -x 160 -y 48
tmux send-keys -t "$session" "$work/venv/bin/cockpit demo n100 --speed 10" Enter
for _ in $(seq 1 120); do
  if tmux capture-pane -t "$session" -p | grep -q "kube ok"; then
    tmux send-keys -t "$session" q
    echo "wheel: plan n100, themes ($themes) and the demo work from a clean install"
    exit 0
  fi
  sleep 0.5
done
echo "the installed demo never showed 'kube ok':"
tmux capture-pane -t "$session" -p
exit 1
