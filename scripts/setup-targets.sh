#!/usr/bin/env bash
# Prepare every real test target (engines, images, trees). Each scripts/setup-<kind>.sh
# is idempotent and cached; a failure is reported and the tests of that kind skip with
# the reason, except in CI (CI=true), where it fails the run.
set -uo pipefail
cd "$(dirname "$0")"
status=0
for script in setup-*.sh; do
  [ "$script" = "setup-targets.sh" ] && continue
  [ -f "$script" ] || continue
  echo "--- $script"
  start=$(date +%s)
  if bash "$script"; then
    echo "--- $script done in $(( $(date +%s) - start )) s"
  else
    echo "--- $script FAILED" >&2
    status=1
  fi
done
if [ "$status" != 0 ] && [ "${CI:-}" = "true" ]; then
  exit 1
fi
exit 0
