"""The execution machinery every process-based connector shares (internal).

:mod:`.loop` drives one running command (both output streams, stdin, prompts, the
timeout and the kill); :mod:`.command` builds the command line a target's shell runs
(env, chdir, shell, sudo/su/doas) and :mod:`.argv` splits it for a wrapper;
:mod:`.local` is a command on this machine; :mod:`.transfer` moves files through a
command's stdin/stdout.
"""
