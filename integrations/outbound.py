"""Which addresses the CRM client may call: checked when a connection is saved, and again on
every connection the client opens.

A connection's `base_url` (and any URL a connector derives from it or from its settings: token
endpoints, next-page links) receives the connection's secrets, so a target is refused when:

- its scheme is not https (http only for a listed private target, or with CRM_OUTBOUND_ALLOW_HTTP);
- it carries user info (`https://user:pass@host/`), which would send a second set of credentials;
- its host is an address, in any spelling, that is not a public unicast address: loopback,
  private, shared (100.64/10), link-local, unique-local, site-local, multicast, reserved,
  unspecified, and the IPv6 forms that embed such an IPv4 address (mapped ::ffff:a.b.c.d,
  compatible ::a.b.c.d, 6to4, Teredo, NAT64 64:ff9b::/96);
- its host is an IPv4 address in a spelling other than dotted decimal (`2130706433`,
  `0177.0.0.1`, `0x7f.1`): resolvers read them as addresses, people do not;
- its host is a localhost name;
- the kind is a hosted CRM with known API hosts (a connector's `api_hosts`: HubSpot, Brevo) and
  the host is none of them.

The operator opens exceptions by settings: CRM_ALLOWED_PRIVATE_TARGETS (host, host:port,
address or network entries that may be private, and may use http), and CRM_OUTBOUND_EXTRA_HOSTS
(further public hosts any kind may use, e.g. a regional API host).

A name is only as safe as what it resolves to at the moment of the call, so the save-time check
is not enough: OutboundAdapter's connections resolve the host themselves, refuse the connection
if any resolved address is refused, and connect to exactly the addresses they checked. No second
lookup happens between the check and the connect, so DNS rebinding has no window. TLS still
verifies the certificate against the host name.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from core.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOCALHOST_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


class OutboundRefused(Exception):
    """A target the outbound rules refuse; `reason` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One CRM_ALLOWED_PRIVATE_TARGETS entry: a host name or address (optional port), or a network."""

    host: str = ""
    port: int | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    def matches(self, *, host: str, port: int | None, address: IPAddress | None = None) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            candidate = address if address is not None else literal_address(host)
            return (
                candidate is not None
                and candidate.version == self.network.version
                and (candidate in self.network)
            )
        return self.host == host


def parse_entry(text: str) -> Entry:
    """`host`, `host:port`, `[v6]:port`, `a.b.c.d`, or a network `10.0.0.0/8` (any port)."""
    text = text.strip().lower()
    if "/" in text:
        return Entry(network=ipaddress.ip_network(text, strict=False))
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return Entry(host=host, port=int(port) if port else None)
    if text.count(":") > 1:  # a bare IPv6 address
        return Entry(host=text)
    host, _, port = text.partition(":")
    return Entry(host=host.rstrip("."), port=int(port) if port else None)


def private_entries() -> list[Entry]:
    """The parsed CRM_ALLOWED_PRIVATE_TARGETS; ImproperlyConfigured names a malformed entry."""
    entries = []
    for text in settings.CRM_ALLOWED_PRIVATE_TARGETS:
        if not text.strip():
            continue
        try:
            entries.append(parse_entry(text))
        except ValueError as exc:
            raise ImproperlyConfigured(f"CRM_ALLOWED_PRIVATE_TARGETS: cannot read {text!r} ({exc}).") from exc
    return entries


def private_target_listed(*, host: str, port: int | None, address: IPAddress | None = None) -> bool:
    """True when the operator listed this host (or the network of this address) as a private target."""
    host = normalise_host(host)
    return any(entry.matches(host=host, port=port, address=address) for entry in private_entries())


def extra_hosts() -> frozenset[str]:
    return frozenset(normalise_host(h) for h in settings.CRM_OUTBOUND_EXTRA_HOSTS if h.strip())


# ---------------------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------------------
def normalise_host(host: str) -> str:
    return host.strip().lower().strip("[]").rstrip(".")


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally (dotted decimal IPv4 or IPv6), else None."""
    try:
        return ipaddress.ip_address(normalise_host(host).split("%", 1)[0])
    except ValueError:
        return None


def odd_ipv4_spelling(host: str) -> bool:
    """True for hosts a resolver reads as an IPv4 address though they are not dotted decimal:
    `2130706433`, `0177.0.0.1`, `0x7f.0.0.1`, `127.1`."""
    host = normalise_host(host)
    if literal_address(host) is not None or not host:
        return False
    if not all(part and all(c in "0123456789abcdefx" for c in part) for part in host.split(".")):
        return False
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    packed = int(address)
    if address in _NAT64 or (packed >> 32 == 0 and packed > 1):  # NAT64; compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why `address` is no public unicast address (None when it is one)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
        inner = embedded_ipv4(address)
        if inner is not None:
            problem = address_problem(inner)
            return f"{problem} (inside the IPv6 address {address})" if problem else None
        if address.is_site_local:
            return f"{address} is a site-local address"
    kinds = (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    )
    for attribute, label in kinds:
        if getattr(address, attribute):
            return f"{address} is {label}"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return f"{address} is a shared (carrier-grade NAT) address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


# ---------------------------------------------------------------------------------------
# URLs (save time, and before every request)
# ---------------------------------------------------------------------------------------
def kind_api_hosts(kind: str) -> tuple[str, ...]:
    """The API hosts of a hosted CRM; () for self-hosted kinds (and kinds the registry lacks)."""
    from integrations.registry import UnknownCrm, get_connector_class

    try:
        return tuple(get_connector_class(kind).api_hosts)
    except UnknownCrm:
        return ()


def url_problem(url: str, *, kind: str) -> str | None:
    """Why the client must not call `url` for a connection of `kind` (None when it may)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"the URL is malformed ({exc})"
    scheme = parts.scheme.lower()
    host = normalise_host(parts.hostname or "")
    if scheme not in ("http", "https"):
        return f"the scheme {scheme or '(none)'!r} is not allowed; use https"
    if not host:
        return "the URL names no host"
    if parts.username is not None or parts.password is not None:
        return "the URL carries user info; put credentials in the connection's credentials"
    if private_target_listed(host=host, port=port or (443 if scheme == "https" else 80)):
        return None
    if odd_ipv4_spelling(host):
        return f"{host!r} is an IPv4 address in an unusual spelling; write it as a.b.c.d"
    address = literal_address(host)
    if address is not None:
        problem = address_problem(address)
        if problem:
            return f"{problem}; private and local targets must be listed in CRM_ALLOWED_PRIVATE_TARGETS"
    if host in LOCALHOST_NAMES or host.endswith(".localhost"):
        return f"{host} is a local name; list it in CRM_ALLOWED_PRIVATE_TARGETS to allow it"
    if scheme == "http" and not settings.CRM_OUTBOUND_ALLOW_HTTP:
        return "plain http is not allowed (set CRM_OUTBOUND_ALLOW_HTTP to allow it); use https"
    api_hosts = kind_api_hosts(kind)
    if api_hosts and host not in api_hosts and host not in extra_hosts():
        return (
            f"{kind} connections call {', '.join(api_hosts)}; other hosts must be listed in "
            "CRM_OUTBOUND_EXTRA_HOSTS"
        )
    return None


def base_url_check(url: str, *, kind: str) -> None:
    """Raise InvalidInput (400 invalid_base_url) when a connection may not call `url`."""
    problem = url_problem(url, kind=kind)
    if problem:
        raise InvalidInput(
            f"base_url is not allowed: {problem}.",
            code="invalid_base_url",
            details={"base_url": [problem]},
        )


def url_host(url: str) -> str:
    """`host` or `host:port` (the port only when not the scheme's default), lower case."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    return f"{host.lower()}:{port}" if port and port != default else host.lower()


# ---------------------------------------------------------------------------------------
# Connect time
# ---------------------------------------------------------------------------------------
def addresses_check(*, host: str, port: int | None, addresses: list[str]) -> None:
    """Raise OutboundRefused unless every address `host` resolved to may be called."""
    if not addresses:
        raise OutboundRefused(f"{host} resolved to no address")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        problem = address_problem(address)
        if problem and not private_target_listed(host=host, port=port, address=address):
            raise OutboundRefused(
                f"{host} resolves to {problem}; private and local targets must be listed in "
                "CRM_ALLOWED_PRIVATE_TARGETS"
            )


class _CheckedConnection:
    """Resolve once, check every address, connect only to the checked addresses.

    The socket is opened on the resolved address itself (never on the name again), so what is
    checked is what is connected to; TLS still verifies the certificate for the host name.
    """

    def _new_conn(self):
        try:
            infos = socket.getaddrinfo(
                self._dns_host, self.port, urllib3_connection.allowed_gai_family(), socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        addresses_check(host=self.host, port=self.port, addresses=[info[4][0] for info in infos])
        last_error: OSError | None = None
        for family, socktype, proto, _name, sockaddr in infos:
            sock = None
            try:
                sock = socket.socket(family, socktype, proto)
                urllib3_connection._set_socket_options(sock, self.socket_options)
                if self.timeout is not _DEFAULT_TIMEOUT:
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                last_error = exc
                if sock is not None:
                    sock.close()
        if isinstance(last_error, TimeoutError):
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from last_error
        raise NewConnectionError(self, f"Failed to establish a new connection: {last_error}") from last_error


class CheckedHTTPConnection(_CheckedConnection, HTTPConnection):
    pass


class CheckedHTTPSConnection(_CheckedConnection, HTTPSConnection):
    pass


class CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = CheckedHTTPConnection


class CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = CheckedHTTPSConnection


class OutboundAdapter(HTTPAdapter):
    """An HTTPAdapter whose every new connection passes addresses_check (see the module docstring)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": CheckedHTTPConnectionPool,
            "https": CheckedHTTPSConnectionPool,
        }
