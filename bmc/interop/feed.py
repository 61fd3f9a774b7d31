"""What the ASTERIX and DIS feeds share: the datagram they make and the time base.

A feed takes the cell's messages one at a time, in bus order, and returns the datagrams
they turn into. The live gateway sends them when they are due, the exporter writes them
to a pcap at their times: both run the same feed, so a recorded engagement exported
reads exactly as the live one did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from protocols import messages as m
from protocols.topics import TopicParts

ASTERIX, DIS = "asterix", "dis"
"""The two streams."""

DEFAULT_PORTS = {ASTERIX: 8600, DIS: 3000}
"""The standards' usual UDP ports (Wireshark dissects both there by default)."""


@dataclass(frozen=True, slots=True)
class Datagram:
    """One UDP payload a feed made."""

    time_s: float
    """Simulated time it is due (a CAT034 sector crossing can fall after the message that caused it)."""
    payload: bytes
    stream: str
    """:data:`ASTERIX` or :data:`DIS`."""


@dataclass(frozen=True, slots=True)
class TimeBase:
    """Simulated time on the UTC clock the standards stamp: ``epoch_unix_s`` + simulated time.

    Live, the epoch is the wall clock when the run's simulated time was 0; exported, the
    recording's start (a virtual run thus exports as if it had run then, in real time)."""

    epoch_unix_s: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.epoch_unix_s) and self.epoch_unix_s >= 0):
            raise ValueError(f"epoch_unix_s: must be a finite time after 1970 (got {self.epoch_unix_s})")

    def unix_s(self, time_s: float) -> float:
        """Unix time of simulated time ``time_s``."""
        return self.epoch_unix_s + time_s

    def time_of_day_s(self, time_s: float) -> float:
        """Seconds since UTC midnight (ASTERIX time of day)."""
        return self.unix_s(time_s) % 86_400.0

    def past_hour_s(self, time_s: float) -> float:
        """Seconds past the UTC hour (DIS timestamps)."""
        return self.unix_s(time_s) % 3_600.0


def parse_udp(url: str, option: str, default_port: int | None = None) -> tuple[str, int]:
    """``udp://HOST[:PORT]`` (the scheme may be left out) -> (host, port), for the command line's
    ``option``; the port defaults to ``default_port`` when there is one. ScenarioError naming
    the option and what is wrong otherwise."""
    from bmc.scenario import ScenarioError

    parts = urlsplit(url if "://" in url else f"udp://{url}")
    why = "only udp:// is supported" if parts.scheme != "udp" else "no host" if not parts.hostname else ""
    try:
        port = parts.port or default_port
    except ValueError:
        why, port = why or "the port must be 1..65535", None
    if port is None and not why:
        why = "no port"
    if why:
        raise ScenarioError(f"{option} {url!r}: {why}; give udp://HOST:PORT (e.g. udp://127.0.0.1:3000)")
    assert parts.hostname is not None and port is not None
    return parts.hostname, port


class Feed(Protocol):
    """Turns the cell's messages into datagrams."""

    stream: str
    time: TimeBase
    """The clock the feed stamps with (the gateway sets it at the first message)."""
    records: int
    """Track records (ASTERIX) or PDUs (DIS) made so far."""

    def feed(self, parts: TopicParts, msg: m.Message, time_s: float) -> list[Datagram]:
        """The datagrams ``msg`` (on the topic ``parts``, published at ``time_s``) becomes."""
        ...

    def wanted(self, parts: TopicParts) -> bool:
        """Whether messages on this topic can give datagrams (the rest need not be decoded)."""
        ...
