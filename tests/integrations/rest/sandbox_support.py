"""Helpers of the REST-family tests against the sandbox CRMs over real HTTP (live_server)."""

import time

import pytest
import requests
from django.urls import Resolver404, resolve

from integrations.connectors.base import ContactPayload


def sandbox_routed(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def require_sandbox(kind: str, probe: str):
    """Skip (with the reason) when the sandbox of `kind` is not mounted."""
    if not sandbox_routed(probe):
        pytest.skip(f"the {kind} sandbox is not mounted at {probe} (sandbox/urls.py)")


class Sandbox:
    """The control API of one sandbox CRM (sandbox/control.py)."""

    def __init__(self, live_server_url: str, kind: str) -> None:
        self.root = f"{live_server_url}/sandbox/{kind}"
        self.control = f"{self.root}/_control"

    def reset(self) -> None:
        requests.post(f"{self.control}/reset", timeout=10).raise_for_status()

    def configure(self, **changes) -> None:
        requests.put(f"{self.control}/", json=changes, timeout=10).raise_for_status()

    def seed(self, object_type: str, records: list[dict]) -> list[int]:
        response = requests.post(
            f"{self.control}/records", json={"object_type": object_type, "records": records}, timeout=10
        )
        response.raise_for_status()
        return response.json()["ids"]

    def wait_for_status(self, status: int, *, within: float = 10.0) -> None:
        """Block until the sandbox has logged an answer with `status` (a hung request finishing),
        so that it does not outlive the test and its database."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            log = requests.get(f"{self.control}/requests", params={"limit": 20}, timeout=10).json()
            if any(row["status"] == status for row in log["results"]):
                return
            time.sleep(0.05)
        raise AssertionError(f"the sandbox never answered {status}")

    def records(self, object_type: str) -> list[dict]:
        response = requests.get(f"{self.control}/records", params={"object_type": object_type}, timeout=10)
        response.raise_for_status()
        return response.json()["results"]


def contact(n: int, **props) -> ContactPayload:
    return ContactPayload(
        contact_id=str(n),
        email=f"sandbox{n}@example.com",
        properties={"first_name": f"First{n}", "last_name": "Sandbox", "company": "Acme", **props},
        idempotency_key=f"k{n}",
    )


def pulled(pages) -> list:
    return [record for page in pages for record in page.records]
