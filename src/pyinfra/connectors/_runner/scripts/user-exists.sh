# shellcheck shell=sh
# Exit 3 when the user $1 does not exist.
id -u -- "$1" >/dev/null 2>&1 || exit 3
