# shellcheck shell=sh
# Write the file $1 to stdout.
if [ -d "$1" ]; then echo "$1 is a directory" >&2; exit 2; fi
exec cat -- "$1"
