"""Loopback ports for the benches' own servers (the standalone sandbox, the API under load)."""

import socket
import sys
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, *, what: str = "the sandbox") -> None:
    """Return once something listens on the port; stop the bench if nothing does within 30 s."""
    for _ in range(300):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"{what} did not start on port {port}")
