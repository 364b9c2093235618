"""`make run PORT=...`: the settings, the demo connections and runstack follow the one port."""

import socket
import sys
import textwrap

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.management.commands import runstack
from integrations.models import CrmConnection
from sandbox import demo
from tests.integrations.core.test_outbound import _settings_value


def test_the_port_moves_the_sandbox_url_and_the_outbound_allow_list(tmp_path):
    assert _settings_value(tmp_path, "CRM_SANDBOX_BASE_URL", PORT="8001") == "http://127.0.0.1:8001/sandbox"
    assert _settings_value(tmp_path, "CRM_ALLOWED_PRIVATE_TARGETS", PORT="8001") == "['127.0.0.1:8001']"


@pytest.mark.django_db
def test_demo_connections_follow_the_sandbox_after_a_first_run_on_another_port(org, settings):
    settings.CRM_SANDBOX_BASE_URL = "http://127.0.0.1:8000/sandbox"
    settings.CRM_ALLOWED_PRIVATE_TARGETS = ["127.0.0.1:8000"]
    demo.seed(org)
    settings.CRM_SANDBOX_BASE_URL = "http://127.0.0.1:8001/sandbox"
    settings.CRM_ALLOWED_PRIVATE_TARGETS = ["127.0.0.1:8001"]
    summary = demo.seed(org)
    urls = dict(CrmConnection.objects.filter(name=demo.DEMO_NAME).values_list("kind", "base_url"))
    assert urls["hubspot"] == "http://127.0.0.1:8001/sandbox/hubspot"
    assert all(url.startswith("http://127.0.0.1:8001/sandbox/") for url in urls.values())
    assert "moved to http://127.0.0.1:8001/sandbox" in summary
    hubspot = CrmConnection.objects.get(name=demo.DEMO_NAME, kind="hubspot")
    assert hubspot.credentials_hosts == ["127.0.0.1:8001"]
    # Unmoved: a third seed changes nothing and says nothing about moving.
    assert "moved" not in demo.seed(org)


@pytest.mark.django_db
def test_a_demo_connection_pointed_elsewhere_by_an_operator_stays(org, settings):
    settings.CRM_SANDBOX_BASE_URL = "http://127.0.0.1:8000/sandbox"
    settings.CRM_ALLOWED_PRIVATE_TARGETS = ["127.0.0.1:8000", "mautic.internal:8080"]
    demo.seed(org)
    CrmConnection.objects.filter(kind="mautic").update(base_url="http://mautic.internal:8080/mautic")
    settings.CRM_SANDBOX_BASE_URL = "http://127.0.0.1:8001/sandbox"
    settings.CRM_ALLOWED_PRIVATE_TARGETS = ["127.0.0.1:8001", "mautic.internal:8080"]
    demo.seed(org)
    assert CrmConnection.objects.get(kind="mautic").base_url == "http://mautic.internal:8080/mautic"


def test_sandbox_moved_needs_a_local_old_host_and_the_same_path():
    wanted = "http://127.0.0.1:8001/sandbox/hubspot"
    assert demo.sandbox_moved(current="http://localhost:8000/sandbox/hubspot", wanted=wanted)
    assert not demo.sandbox_moved(current=wanted, wanted=wanted)
    assert not demo.sandbox_moved(current="https://api.hubapi.com", wanted=wanted)
    assert not demo.sandbox_moved(current="http://127.0.0.1:8000/other/hubspot", wanted=wanted)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db
def test_runstack_refuses_a_port_already_taken_with_one_line_and_exit_1(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError) as caught:
            call_command("runstack", addr=f"127.0.0.1:{port}")
    assert caught.value.returncode == 1
    assert f"port {port}" in str(caught.value) and "\n" not in str(caught.value)
    assert "serving" not in capsys.readouterr().out.lower()


def test_runstack_refuses_a_malformed_address():
    with pytest.raises(CommandError) as caught:
        call_command("runstack", addr="nowhere")
    assert caught.value.returncode == 2


class _Stack(runstack.Command):
    """runstack with stand-in children: a web server that starts late, a worker that may fail."""

    worker_code = "import time; print('worker up', flush=True); time.sleep(60)"

    def commands(self, *, addr, concurrency):
        host, port = runstack.addr_split(addr)
        web = textwrap.dedent(f"""
            import http.server, time
            print('web starting', flush=True)
            time.sleep(1)
            http.server.HTTPServer(({host!r}, {port}), http.server.BaseHTTPRequestHandler).serve_forever()
        """)
        beat = "import time; print('beat up', flush=True); time.sleep(60)"
        return {
            "web": [sys.executable, "-c", web],
            "worker": [sys.executable, "-c", self.worker_code],
            "beat": [sys.executable, "-c", beat],
        }


class _FailingWorker(_Stack):
    worker_code = "import sys, time; print('worker broke', flush=True); time.sleep(3); sys.exit(3)"


@pytest.mark.django_db
def test_runstack_announces_once_serving_prefixes_lines_and_fails_when_a_child_dies(capsys):
    port = _free_port()
    with pytest.raises(CommandError) as caught:
        call_command(_FailingWorker(), addr=f"127.0.0.1:{port}")
    assert caught.value.returncode == 1
    assert "worker exited with code 3" in str(caught.value)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert (
        "web    | web starting" in lines and "worker | worker broke" in lines and "beat   | beat up" in lines
    )
    banner = out.index(f"serving on http://127.0.0.1:{port}/")
    assert out.count("serving on") == 1
    assert banner > out.index("web    | web starting")
    assert "user: admin" in out and "printed once" in out
