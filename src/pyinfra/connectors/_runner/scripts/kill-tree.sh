# shellcheck shell=sh
# Kill the process tree of an SSH command: every process group in it.
# $1: the command's login shell PID (also its process group id); $2: that process's
# start time as it reported it (from /proc/PID/stat), or - (unknown). When known, a
# PID that now belongs to a process started at another time is left alone.
root=$1
if [ "${2:--}" != - ]; then
  read -r stat 2>/dev/null </proc/"$root"/stat || exit 0
  started=$2
  # shellcheck disable=SC2086 # the stat fields are split into $1, $2... on purpose
  set -- ${stat##*) }
  [ "${20}" = "$started" ] || exit 0
fi
groups=$(ps -e -o pid= -o ppid= -o pgid= 2>/dev/null | awk -v root="$root" '
{ parent[$1] = $2; group[$1] = $3 }
END {
  tree[root] = 1
  do {
    grown = 0
    for (p in parent) if (!(p in tree) && (parent[p] in tree)) { tree[p] = 1; grown = 1 }
  } while (grown)
  for (p in tree) if (p in group) print group[p]
}' | sort -u)
for g in "$root" $groups; do kill -s KILL -- "-$g" 2>/dev/null; done
kill -s KILL -- "$root" 2>/dev/null
exit 0
