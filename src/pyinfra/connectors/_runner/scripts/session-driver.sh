# shellcheck shell=sh
# The container session driver: reads TOKEN, COMMAND LINES..., TOKEN on stdin and
# runs each command in a session of its own, stdin /dev/null, the token in its
# environment; then prints TOKEN:STATUS on stdout and TOKEN on stderr.
command -v setsid >/dev/null 2>&1 || exit 3
exec 3>&2 2>/dev/null
printf 'pyinfra-session-ready\n'
while IFS= read -r tok; do
  cmd=
  while IFS= read -r line; do
    [ "$line" = "$tok" ] && break
    cmd="$cmd$line
"
  done
  (PYINFRA_EXEC_TOKEN=$tok; export PYINFRA_EXEC_TOKEN; eval "exec setsid $cmd") \
    </dev/null 2>&3 3>&-
  printf '%s:%s\n' "$tok" "$?"
  printf '%s\n' "$tok" >&3
done
