"""A cloud-style inventory connector, shaped like the seed's ``CloudConnector``: it asks
an HTTP API for the instances with a tag and yields them as hosts reached over SSH.

The API address comes from ``PYINFRA_TEST_CLOUD_API`` (the tests start a small server on
127.0.0.1); it uses urllib instead of requests to need no extra package.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from pyinfra.connectors.base import BaseConnector

API_ENV = "PYINFRA_TEST_CLOUD_API"


class CloudConnector(BaseConnector):  # handles_execution = False: hosts run over @ssh
    @staticmethod
    def make_names_data(name: str) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        # Fetch instances from cloud API
        query = urllib.parse.urlencode({"tag": name})
        with urllib.request.urlopen(f"{os.environ[API_ENV]}/instances?{query}", timeout=10) as r:
            instances = json.load(r)
        for instance in instances:
            yield (
                instance["name"],
                {
                    "ssh_hostname": instance["public_ip"],
                    "ssh_port": instance["ssh_port"],
                    "instance_id": instance["id"],
                    "instance_type": instance["type"],
                },
                [instance["environment"]],  # Groups
            )
