"""The rig's mosquitto.conf: the one copy of the broker tuning the transport relies on.

``protocols/mosquitto.conf`` is shipped as package data; ``bmc broker-config`` prints it,
test brokers run it on a free loopback port, and ``bmc broker-config --acl`` writes it
with its own listener and logins. Each variant changes only the listener and who may
log in, so the tuning (TCP_NODELAY, the in-flight window, no persistence) stays in one
place.
"""

from __future__ import annotations

from importlib import resources

from protocols.errors import UsageError

LISTENER = "listener 1883 127.0.0.1\n"
ANONYMOUS = "allow_anonymous true\n"


class BrokerConfError(UsageError):
    """The shipped mosquitto.conf lacks a line a variant replaces (an edited package)."""


def shipped() -> str:
    """The rig's mosquitto.conf as shipped: loopback listener on 1883, anonymous logins,
    TCP_NODELAY, a wide in-flight window, no persistence."""
    return (resources.files("protocols") / "mosquitto.conf").read_text(encoding="utf-8")


def variant(port: int = 1883, host: str = "127.0.0.1", access: str | None = None) -> str:
    """The shipped configuration listening on ``host:port``; ``access`` (whole lines, e.g.
    ``allow_anonymous false`` and a password and ACL file) replaces its anonymous login."""
    text = shipped()
    for line in (LISTENER, ANONYMOUS):
        if line not in text:
            raise BrokerConfError(f"protocols/mosquitto.conf has no line {line.strip()!r} to replace")
    text = text.replace(LISTENER, f"listener {port} {host}\n")
    if access is not None:
        text = text.replace(ANONYMOUS, access if access.endswith("\n") else access + "\n")
    return text
