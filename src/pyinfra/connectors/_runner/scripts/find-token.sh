# shellcheck shell=sh
# Print the PIDs whose environment holds the exec token $1 (readable: same user,
# or root).
t="PYINFRA_EXEC_TOKEN=$1"
for d in /proc/[0-9]*; do
  tr '\0' '\n' < "$d/environ" 2>/dev/null | grep -qxF "$t" && echo "${d#/proc/}"
done
exit 0
