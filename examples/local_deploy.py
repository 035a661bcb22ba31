"""Example deploy: builds a small "site" under a temp directory on the target.

    pyinfra @local examples/local_deploy.py          # first run: everything changes
    pyinfra @local examples/local_deploy.py          # second run: no changes
    pyinfra @local examples/local_deploy.py --dry    # what would change, nothing done

Set the base directory with --data base=/some/dir (default: /tmp/pyinfra-example).
"""

from io import StringIO
from pathlib import Path

from pyinfra import host
from pyinfra.facts.server import Arch, Hostname
from pyinfra.operations import files

base = host.data.get("base", "/tmp/pyinfra-example")
here = Path(__file__).parent

files.directory(name="Create the site directory", path=f"{base}/site", mode="755")

files.put(
    name="Upload the index page",
    src=StringIO("<h1>Hello from pyinfra</h1>\n"),
    dest=f"{base}/site/index.html",
    mode="644",
)

files.template(
    name="Render the config from a template",
    src=str(here / "templates" / "app.conf.j2"),
    dest=f"{base}/app.conf",
    hostname=host.get_fact(Hostname),
    arch=host.get_fact(Arch),
    workers=2,
)

files.file(name="Create the allow list", path=f"{base}/allow.list", mode="600")

files.line(
    name="Allow localhost",
    path=f"{base}/allow.list",
    line="127.0.0.1",
)

files.link(
    name="Point current at the site",
    path=f"{base}/current",
    target=f"{base}/site",
)
