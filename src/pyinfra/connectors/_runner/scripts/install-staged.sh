# shellcheck shell=sh
# Install a staged upload as the escalated user: copy the login user's private
# temp file into a new temp file next to the destination, take over the mode/owner of
# the file it replaces, move it into place. The staged file is removed in any case.
# $1: the staged file, $2: the destination.
src=$1 dest=$2
trap 'rm -f "$src"' EXIT
# a signal (SIGPIPE too: the connection went away) exits through the EXIT trap
trap 'exit 1' INT TERM HUP PIPE
case "$dest" in */*) dir=${dest%/*}; dir=${dir:-/} ;; *) dir=. ;; esac
if [ ! -d "$dir" ]; then echo "directory $dir does not exist" >&2; exit 2; fi
if [ -d "$dest" ]; then echo "$dest is a directory" >&2; exit 2; fi
tmp=$(mktemp "$dir/.pyinfra-upload.XXXXXXXXXX") || exit 1
trap 'rm -f "$src" "$tmp"' EXIT
cat -- "$src" > "$tmp" || exit 1
if [ -e "$dest" ]; then
  chmod "$(stat -c %a "$dest")" "$tmp" || exit 1
  chown "$(stat -c %u:%g "$dest")" "$tmp" 2>/dev/null || true
else
  m=$(umask); chmod "$(printf '%o' $(( 0666 & ~0$m )))" "$tmp" || exit 1
fi
mv -f "$tmp" "$dest"
