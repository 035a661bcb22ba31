# shellcheck shell=sh
# Finish an scp upload: the data is in a temp file next to the destination; take
# over the mode/owner of the file it replaces and move it into place (or remove it).
# $1: the temp file, $2: the destination.
tmp=$1 dest=$2
trap 'rm -f "$tmp"' EXIT
# a signal (SIGPIPE too: the connection went away) exits through the EXIT trap
trap 'exit 1' INT TERM HUP PIPE
if [ -d "$dest" ]; then echo "$dest is a directory" >&2; exit 2; fi
if [ -e "$dest" ]; then
  chmod "$(stat -c %a "$dest")" "$tmp" || exit 1
  chown "$(stat -c %u:%g "$dest")" "$tmp" 2>/dev/null || true
else
  m=$(umask); chmod "$(printf '%o' $(( 0666 & ~0$m )))" "$tmp" || exit 1
fi
mv -f "$tmp" "$dest" && trap - EXIT
