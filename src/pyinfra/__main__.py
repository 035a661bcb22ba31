"""``python -m pyinfra`` is the same as the ``pyinfra`` command."""

from pyinfra_cli.__main__ import main

if __name__ == "__main__":
    main()
