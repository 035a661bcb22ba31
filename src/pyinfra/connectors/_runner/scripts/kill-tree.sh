# shellcheck shell=sh
# Kill the process tree of an SSH command: every process group in it.
# $1: the command's login shell PID (also its process group id).
root=$1
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
