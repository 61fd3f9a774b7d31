"""Where and how to connect to the broker, and the one place an aiomqtt client is built."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt

from protocols.errors import UsageError


@dataclass(frozen=True, slots=True)
class Login:
    """How one identity logs in to the broker (``bmc broker-config --acl``)."""

    user: str
    password: str
    certificate: tuple[str, str] | None = None
    """(certificate file, key file) of a TLS client certificate, or None."""

    def applied(self, cfg: BrokerConfig) -> BrokerConfig:
        """``cfg`` logging in as this identity (its certificate only over TLS)."""
        cfg = replace(cfg, username=self.user, password=self.password)
        if self.certificate is not None and cfg.tls:
            cfg = replace(cfg, cert_file=self.certificate[0], key_file=self.certificate[1])
        return cfg


class BrokerError(UsageError, RuntimeError):
    """A broker URL or option that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Where and how to connect."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    client_id: str = "bmc"
    """Prefix of every connection's client id: ``<client_id>-<node id>``."""
    keepalive_s: int = 5
    """MQTT keep-alive; a silent connection is declared dead after 1.5 times this."""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise BrokerError(f"broker port must be 1-65535 (got {self.port})")
        if self.keepalive_s < 1:
            raise BrokerError(f"keep-alive must be >= 1 s (got {self.keepalive_s})")
        if (self.cert_file is None) != (self.key_file is None):
            raise BrokerError("a client certificate needs both --tls-cert and --tls-key")

    @classmethod
    def from_url(cls, url: str, **options: Any) -> BrokerConfig:
        """``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...`` (TLS, default port 8883)."""
        parts = urlsplit(url)
        if parts.password:
            # Never echo a password in an error message.
            url = url.replace(f":{parts.password}@", ":***@")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise BrokerError(f"broker URL must start with mqtt:// or mqtts:// (got {url!r})")
        if not parts.hostname:
            raise BrokerError(f"broker URL has no host (got {url!r})")
        tls = parts.scheme in ("mqtts", "ssl") or bool(options.pop("tls", False))
        try:
            port = parts.port
            if port is None:
                port = 8883 if tls else 1883
            elif port == 0:
                raise ValueError
        except ValueError:
            raise BrokerError(f"broker URL has a bad port (got {url!r})") from None
        fields: dict[str, Any] = {
            "host": parts.hostname,
            "port": port,
            "tls": tls,
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
        }
        fields.update({k: v for k, v in options.items() if v is not None})
        return cls(**fields)

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context to connect with, None without TLS."""
        if not self.tls:
            return None
        try:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            if self.cert_file and self.key_file:
                ctx.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise BrokerError(f"TLS setup failed: {exc}") from None
        return ctx

    def client(
        self, identifier: str, will: aiomqtt.Will | None = None, timeout_s: float = 10.0
    ) -> aiomqtt.Client:
        """An aiomqtt client for this broker, logged in as configured: MQTT 5, TCP_NODELAY,
        a wide in-flight window, and aiomqtt's pending-call warning raised out of the way (a
        replay or a track flood keeps thousands of calls pending by design)."""
        client = aiomqtt.Client(
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            identifier=identifier,
            protocol=aiomqtt.ProtocolVersion.V5,
            will=will,
            keepalive=self.keepalive_s,
            tls_context=self.tls_context(),
            max_inflight_messages=1000,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            timeout=timeout_s,
        )
        client.pending_calls_threshold = 10_000
        return client
