# shellcheck shell=sh
# Bind-mount /dev/pts on $1 (the tree's /dev/pts, in a private mount namespace),
# then run the rest of the arguments.
mount --bind /dev/pts "$1" && shift && exec "$@"
