# shellcheck shell=sh
# As root in a container: stop and kill every process that has the exec token $1
# in its environment, is a live child of the session driver tagged $2 (or -), or
# whose session / process group is led by one of those (or by a PID in $3...).
t="PYINFRA_EXEC_TOKEN=$1"; tag=$2; shift 2; me=$$; ids="$*"; drv=""
if [ "$tag" != - ]; then
  for d in /proc/[0-9]*; do
    [ "${d#/proc/}" = "$me" ] && continue
    case "$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)" in *"$tag"*) drv="$drv ${d#/proc/}";; esac
  done
fi
n=0
while [ $n -lt 20 ]; do
  hits=""
  for d in /proc/[0-9]*; do
    p=${d#/proc/}; [ "$p" = "$me" ] && continue
    if tr '\0' '\n' < "$d/environ" 2>/dev/null | grep -qxF "$t"; then ids="$ids $p"; fi
  done
  for d in /proc/[0-9]*; do
    p=${d#/proc/}; [ "$p" = "$me" ] && continue
    s=$(cat "$d/stat" 2>/dev/null) || continue
    s=${s##*) }
    # shellcheck disable=SC2086 # the stat fields are split into $1, $2... on purpose
    set -- $s
    [ "$1" = Z ] && continue
    for x in $drv; do [ "$2" = "$x" ] && ids="$ids $p"; done
    for i in $ids; do
      if [ "$p" = "$i" ] || [ "$3" = "$i" ] || [ "$4" = "$i" ]; then hits="$hits $p"; break; fi
    done
  done
  [ -z "$hits" ] && exit 0
  # shellcheck disable=SC2086 # one argument per PID
  kill -STOP $hits 2>/dev/null
  # shellcheck disable=SC2086 # one argument per PID
  kill -KILL $hits 2>/dev/null
  n=$((n+1))
done
exit 1
