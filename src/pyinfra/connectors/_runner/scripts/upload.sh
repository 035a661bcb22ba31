# shellcheck shell=sh
# Write exactly $3 bytes of stdin to $1, atomically: into a private temp file next
# to it (named with the token $2, so a cleanup can find it after a kill), checked for
# size, given the mode/owner of the file it replaces, then moved into place. Anything
# short leaves the destination as it was.
set -e
dest=$1
case "$dest" in */*) dir=${dest%/*}; dir=${dir:-/} ;; *) dir=. ;; esac
if [ ! -d "$dir" ]; then echo "directory $dir does not exist" >&2; exit 2; fi
if [ -d "$dest" ]; then echo "$dest is a directory" >&2; exit 2; fi
tmp=$(mktemp "$dir/.pyinfra-upload.$2.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# a signal (SIGPIPE too: the connection went away) exits through the EXIT trap
trap 'exit 1' INT TERM HUP PIPE
cat > "$tmp"
got=$(( $(wc -c < "$tmp") ))
if [ "$got" != "$3" ]; then
  echo "upload incomplete: received $got of $3 bytes" >&2; exit 3
fi
if [ -e "$dest" ]; then
  # GNU stat, else BSD/macOS stat
  mode=$(stat -c %a "$dest" 2>/dev/null || stat -f %Lp "$dest" 2>/dev/null) || mode=
  owner=$(stat -c %u:%g "$dest" 2>/dev/null || stat -f %u:%g "$dest" 2>/dev/null) || owner=
  [ -z "$mode" ] || chmod "$mode" "$tmp" 2>/dev/null || true
  [ -z "$owner" ] || chown "$owner" "$tmp" 2>/dev/null || true
else
  m=$(umask); chmod "$(printf '%o' $(( 0666 & ~0$m )))" "$tmp"
fi
mv -f "$tmp" "$dest"
trap - EXIT
