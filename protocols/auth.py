"""Message authentication: every envelope sealed by its sender, checked by every receiver.

The threat model and the reasons for this scheme are in ``docs/SECURITY.md``. In short:

- **Pairwise keys.** Every two nodes that talk share a 32-byte key nobody else holds
  (``K{a,b}``). A sender seals a message with one tag per receiver the cell gives
  that message (:meth:`Roles.receivers`), each keyed with the pair's key. A node that
  is compromised knows only its own pairs: it can speak as itself, never as another
  node, and cannot forge for a receiver it has no key with.
- **The seal** is field 30 of the ``Envelope``, appended after the header and body:
  ``Seal { uint64 epoch = 1; repeated Tag tags = 2; }``, ``Tag { string to = 1;
  bytes mac = 2; }``. A tag is keyed BLAKE2b-128 (RFC 7693's MAC mode) with key
  ``K{sender,to}`` over ``"bmc-seal/1" 0 topic 0 epoch(8 bytes, big-endian)
  SHA-256(content))``, where content is the envelope's bytes before the seal
  (header with sender and sequence, and body). The topic is bound, so a message
  cannot be moved to another topic; the sender is in the hashed header.
- **Roles.** A receiver accepts a message only from the sender the cell gives that
  topic: a node's own topics, fire orders only from the FDC, operator commands only
  from an operator.
- **Replay window.** ``epoch`` numbers the sender's life (milliseconds since the Unix
  epoch at its start in real time, 1 in virtual runs); ``sequence`` in the header
  counts its messages per topic. Per (sender, topic) a receiver keeps the newest
  epoch and a 64-message window (IPsec's anti-replay bitmap): an older life, a copy
  already accepted or one older than the window is refused.

Refusals are counted by (topic, reason) with :data:`REASONS` as the reasons.
Taps (the monitor that computes the report, the recorder) see the content without
the seal: a run's digest and recording do not depend on its keys.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocols import wire
from protocols.errors import UsageError

SEAL_FIELD = 30
"""``Envelope`` field number of the seal."""

TAG_LEN = 16
"""Bytes of each tag (128 bits, as MAVLink 2 uses 48 and IPsec 96-128)."""

KEY_LEN = 32
"""Bytes of each pairwise key."""

WINDOW = 64
"""Messages per (sender, topic) the replay window accepts out of order."""

MONITOR = "monitor"
"""Node id of the cell's monitor: the report, the recorder and the live checks read everything."""

OPERATOR = "operator"
"""Node id of the operator console (operator commands to the FDC)."""

WORLD = "world"

REASONS = (
    "unsealed",  # no seal: sent by something without keys
    "bad_seal",  # a seal that does not parse
    "wrong_sender",  # this sender may not publish on this topic
    "not_for_me",  # no tag for this receiver (or no key with that sender)
    "bad_tag",  # a tag that does not match: forged or altered
    "replay",  # an older life, a copy already accepted, or older than the window
)

_SEAL_TAG = wire.tag(SEAL_FIELD)
_blake2b = hashlib.blake2b
_sha256 = hashlib.sha256
_DOMAIN = b"bmc-seal/1\x00"
_WINDOW_MASK = (1 << WINDOW) - 1
_EPOCH = struct.Struct(">Q")

PUBLISHES: dict[str, frozenset[str]] = {
    "radar": frozenset({"tracks", "state"}),
    "launcher": frozenset({"engagement", "status", "state"}),
    "fdc": frozenset({"heartbeat", "picture", "state"}),
    "world": frozenset({"truth", "flyout", "detonation", "state"}),
}
"""Channels a node of each kind publishes on its own topics."""


class AuthError(UsageError, ValueError):
    """A key directory or key file that cannot be used; the message names it and says what to do."""


@dataclass(frozen=True, slots=True)
class Roles:
    """Who is who in one cell: which node may publish where, and who must read it."""

    fdc: str
    radars: tuple[str, ...]
    launchers: tuple[str, ...]
    external: tuple[str, ...] = ()
    """Nodes in processes of their own (``external`` in the scenario): they take the cell's
    clock from the world's birth and truth, so those are sealed for them too."""
    world: str = WORLD
    operators: tuple[str, ...] = (OPERATOR,)
    monitor: str = MONITOR
    _kinds: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kinds = {self.world: "world", self.fdc: "fdc", self.monitor: "monitor"}
        kinds.update(dict.fromkeys(self.radars, "radar"))
        kinds.update(dict.fromkeys(self.launchers, "launcher"))
        kinds.update(dict.fromkeys(self.operators, "operator"))
        self._kinds.update(kinds)

    @property
    def nodes(self) -> tuple[str, ...]:
        """Every identity of the cell, monitor and operators included."""
        return tuple(self._kinds)

    def kind_of(self, node_id: str) -> str | None:
        """The kind of ``node_id``, None for a node the cell does not have."""
        return self._kinds.get(node_id)

    def peers(self, node_id: str) -> tuple[str, ...]:
        """The nodes ``node_id`` shares a key with: every node it sends to or hears from."""
        kind = self.kind_of(node_id)
        if kind is None:
            return ()
        if kind == "monitor":
            return tuple(n for n in self._kinds if n != node_id)
        out = {self.monitor}
        if kind in ("radar", "launcher"):
            out |= {self.fdc, self.world}
        elif kind == "fdc":
            out |= set(self.radars) | set(self.launchers) | {self.world} | set(self.operators)
        elif kind == "world":
            out |= set(self.radars) | set(self.launchers) | {self.fdc}
        elif kind == "operator":
            out.add(self.fdc)
        out.discard(node_id)
        return tuple(n for n in self._kinds if n in out)

    def allowed(self, kind: str, node_id: str, channel: str, sender: str) -> bool:
        """True when ``sender`` may publish on topic ``<root>/<kind>/<node_id>/<channel>``."""
        if channel == "order":
            return kind == "launcher" and node_id in self.launchers and sender == self.fdc
        if channel == "command":
            return kind == "fdc" and node_id == self.fdc and sender in self.operators
        return sender == node_id and self.kind_of(sender) == kind and channel in PUBLISHES.get(kind, ())

    def receivers(self, kind: str, node_id: str, channel: str) -> tuple[str, ...]:
        """Who a message on ``<root>/<kind>/<node_id>/<channel>`` is sealed for (monitor last)."""
        if channel == "tracks":
            out: tuple[str, ...] = (self.fdc,)
        elif channel == "order":
            out = (node_id,)
        elif channel == "engagement":
            out = (self.fdc, self.world)
        elif channel in ("status", "detonation", "command"):
            out = (self.fdc,)
        elif channel == "heartbeat":
            out = self.launchers
        elif channel in ("truth", "state") and kind == "world":
            # Radars detect from the truth; nodes in processes of their own take the clock from it.
            out = (*self.radars, *(x for x in self.external if x not in self.radars))
        elif channel == "state" and kind == "launcher":
            out = (self.fdc,)
        else:
            out = ()
        return (*out, self.monitor)


def pair(a: str, b: str) -> tuple[str, str]:
    """The key name of the pair {a, b} (order does not matter)."""
    return (a, b) if a <= b else (b, a)


def derived_keys(secret: str, roles: Roles) -> dict[tuple[str, str], bytes]:
    """Pairwise keys derived from a public string: for virtual runs and explicit demos only
    (anyone who knows the scenario's name can compute them)."""
    root = hashlib.sha256(b"bmc-demo-key/" + secret.encode()).digest()
    out: dict[tuple[str, str], bytes] = {}
    for a in roles.nodes:
        for b in roles.peers(a):
            p = pair(a, b)
            if p not in out:
                out[p] = hmac.digest(root, f"{p[0]}\x00{p[1]}".encode(), "sha256")
    return out


@dataclass(slots=True)
class _Window:
    epoch: int
    top: int
    bits: int


class Keyring:
    """The pairwise keys one process holds, and the seal and check built on them.

    ``local`` names the identities this process speaks and listens as (its nodes, and the
    monitor when it runs one); a key of a pair without a local node is never needed."""

    def __init__(
        self,
        roles: Roles,
        keys: Mapping[tuple[str, str], bytes],
        local: Iterable[str],
        epoch: int = 1,
    ) -> None:
        self.roles = roles
        self.local = frozenset(local)
        self.epoch = epoch
        self._keys = {p: k for p, k in keys.items() if p[0] in self.local or p[1] in self.local}
        self._routes: dict[str, tuple[str, str, str] | None] = {}
        self._epoch_bytes = _EPOCH.pack(epoch)
        self._seal_head = b"\x08" + wire.varint(epoch)
        self._plans: dict[tuple[str, str], tuple[bytes, list[tuple[bytes, Any]]]] = {}
        self._allowed: dict[tuple[str, str], bool] = {}
        """(topic, sender) -> may publish there (remembered: every message asks)."""
        self._links: dict[tuple[str, str], _Link] = {}
        self._last: tuple[bytes, bytes] = (b"", b"")

    def key(self, a: str, b: str) -> bytes | None:
        """The key of pair {a, b}, None when this process does not hold it."""
        return self._keys.get(pair(a, b))

    def _route(self, root: str, topic: str) -> tuple[str, str, str] | None:
        route = self._routes.get(topic)
        if route is None and topic not in self._routes:
            parts = topic[len(root) + 1 :].split("/") if topic.startswith(root + "/") else []
            route = (parts[0], parts[1], parts[2]) if len(parts) == 3 else None
            if len(self._routes) > 4096:
                self._routes.clear()
            self._routes[topic] = route
        return route

    # ------------------------------------------------------------ sending

    def seal(self, root: str, topic: str, sender: str, content: bytes) -> bytes:
        """``content`` with its seal: one tag for each receiver of the topic this process can key."""
        seal = self.seal_of(root, topic, sender, content)
        return content + _SEAL_TAG + wire.varint(len(seal)) + seal

    def seal_of(self, root: str, topic: str, sender: str, content: bytes) -> bytes:
        """The ``Seal`` message of ``content`` (what :meth:`seal` appends as field 30)."""
        plan = self._plans.get((topic, sender))
        if plan is None:
            plan = self._plan(root, topic, sender)
        head, tags = plan
        digest = head + _hash(content)
        # A receiver in this process checks the same content next: hash it once.
        self._last = (content, digest)
        out = [self._seal_head]
        for prefix, keyed in tags:
            mac = keyed.copy()
            mac.update(digest)
            out.append(prefix)
            out.append(mac.digest())
        return b"".join(out)

    def _plan(self, root: str, topic: str, sender: str) -> tuple[bytes, list[tuple[bytes, Any]]]:
        route = self._route(root, topic)
        receivers = self.roles.receivers(*route) if route is not None else (self.roles.monitor,)
        tags = []
        for to in receivers:
            key = self._keys.get(pair(sender, to))
            if key is not None and to != sender:
                tags.append((_entry_prefix(to), _keyed(key)))
        if len(self._plans) > 4096:
            self._plans.clear()
        plan = self._plans[(topic, sender)] = (_head(topic, self._epoch_bytes), tags)
        return plan

    # ------------------------------------------------------------ receiving

    def open(self, root: str, topic: str, sender: str, content: bytes, seal: bytes | None) -> Opened | str:
        """The checks that do not depend on the receiver: an :class:`Opened` message for
        :meth:`accept`, or why every receiver must refuse it (a :data:`REASONS` key).
        ``content`` and ``seal`` are :func:`split`'s; ``sender`` comes from the content's header."""
        if seal is None:
            return "unsealed"
        allowed = self._allowed.get((topic, sender))
        if allowed is None:
            route = self._route(root, topic)
            allowed = route is not None and self.roles.allowed(*route, sender)
            if len(self._allowed) > 4096:
                self._allowed.clear()
            self._allowed[(topic, sender)] = allowed
        if not allowed:
            return "wrong_sender"
        if not seal or seal[0] != 0x08:
            return "bad_seal"
        try:
            epoch, at = wire.read_varint(seal, 1)
        except ValueError:
            return "bad_seal"
        return Opened(topic, sender, content, epoch, seal, at)

    def accept(self, opened: Opened, receiver: str, sequence: int) -> str | None:
        """Why ``receiver`` must refuse ``opened`` (a :data:`REASONS` key), None to accept it.
        ``sequence`` is the content header's. An accepted message moves the replay window."""
        link = self._links.get((opened.sender, receiver))
        if link is None:
            link = self._link(opened.sender, receiver)
        seal = opened.seal
        # Found by its bytes: a forged entry that matches earlier can only make this check fail.
        at = seal.find(link.prefix, opened.tags_at)
        keyed = link.keyed
        if at < 0 or keyed is None:
            return "not_for_me"
        at += link.skip
        digest = opened.digest
        if digest is None:
            digest = opened.digest = self._digest_of(opened)
        mac = keyed.copy()
        mac.update(digest)
        if not hmac.compare_digest(seal[at : at + TAG_LEN], mac.digest()):
            return "bad_tag"
        w = link.windows.get(opened.topic)
        if w is not None and opened.epoch == w.epoch and sequence == w.top + 1:
            # The common case, inline: the next message of the same life.
            w.top = sequence
            w.bits = (w.bits << 1 | 1) & _WINDOW_MASK
            return None
        return _slide(link.windows, opened.topic, opened.epoch, sequence)

    def _link(self, sender: str, receiver: str) -> _Link:
        key = self._keys.get(pair(sender, receiver))
        link = self._links[(sender, receiver)] = _Link(
            _entry_prefix(receiver), None if key is None else _keyed(key)
        )
        return link

    def _digest_of(self, opened: Opened) -> bytes:
        head = _head(opened.topic, _EPOCH.pack(opened.epoch))
        last_content, last_digest = self._last
        if opened.content == last_content and last_digest.startswith(head):
            return last_digest
        return head + _hash(opened.content)

    def check(
        self, root: str, topic: str, receiver: str, sender: str, sequence: int, payload: bytes
    ) -> str | None:
        """:meth:`open` and :meth:`accept` of a whole payload, for one receiver."""
        content, seal = split(payload)
        opened = self.open(root, topic, sender, content, seal)
        if isinstance(opened, str):
            return opened
        return self.accept(opened, receiver, sequence)


class _Link:
    """One (sender, receiver) link of a keyring: the receiver's tag prefix, the pair's keyed
    MAC, and the replay window of each topic the link carries."""

    __slots__ = ("keyed", "prefix", "skip", "windows")

    def __init__(self, prefix: bytes, keyed: Any) -> None:
        self.prefix = prefix
        self.skip = len(prefix)
        self.keyed = keyed
        self.windows: dict[str, _Window] = {}


def _slide(windows: dict[str, _Window], topic: str, epoch: int, seq: int) -> str | None:
    """Move ``topic``'s replay window to (``epoch``, ``seq``), or say why not."""
    w = windows.get(topic)
    if w is None or epoch > w.epoch:
        windows[topic] = _Window(epoch, seq, 1)
        return None
    if epoch < w.epoch:
        return "replay"
    if seq > w.top:
        shift = seq - w.top
        w.bits = ((w.bits << shift) | 1) & _WINDOW_MASK if shift < WINDOW else 1
        w.top = seq
        return None
    back = w.top - seq
    if back >= WINDOW or w.bits >> back & 1:
        return "replay"
    w.bits |= 1 << back
    return None


@dataclass(slots=True)
class Opened:
    """A sealed message whose sender may publish on its topic, its epoch read."""

    topic: str
    sender: str
    content: bytes
    epoch: int
    seal: bytes
    tags_at: int
    """Where the seal's tags start."""
    digest: bytes | None = None
    """What the tags authenticate, computed once for all receivers."""


def _head(topic: str, epoch: bytes) -> bytes:
    return _DOMAIN + topic.encode() + b"\x00" + epoch


def _hash(content: bytes) -> bytes:
    # SHA-256 for the bulk: 2.5 times BLAKE2b's speed here (the CPU's SHA extensions).
    return _sha256(content).digest()


def _keyed(key: bytes) -> Any:
    """A MAC keyed with ``key``, to ``copy()`` for each tag (a third cheaper than keying anew).

    Keyed BLAKE2b is a MAC by design (RFC 7693 section 2.9; WireGuard and libsodium use it):
    0.5 us per tag here against 2.9 us for HMAC-SHA256, with no dependency beyond hashlib."""
    return _blake2b(key=key, digest_size=TAG_LEN)


def _entry_prefix(receiver: str) -> bytes:
    """The bytes of one ``Tag`` up to its MAC: field 2 of the seal, ``to``, then the MAC's key."""
    name = receiver.encode()
    entry = b"\x0a" + wire.varint(len(name)) + name + b"\x12" + bytes((TAG_LEN,))
    return b"\x12" + wire.varint(len(entry) + TAG_LEN) + entry


def split(payload: bytes) -> tuple[bytes, bytes | None]:
    """(content, seal bytes) of a payload; (payload, None) when it ends without a seal.

    Walks the top-level fields (two or three): the seal counts only as the last one."""
    pos, end = 0, len(payload)
    try:
        while pos < end:
            start = pos
            key, pos = wire.read_varint(payload, pos)
            wire_type = key & 7
            if wire_type == 2:
                length, pos = wire.read_varint(payload, pos)
                pos += length
                if key >> 3 == SEAL_FIELD and pos == end:
                    return payload[:start], payload[pos - length : pos]
            elif wire_type == 0:
                _, pos = wire.read_varint(payload, pos)
            elif wire_type == 1:
                pos += 8
            elif wire_type == 5:
                pos += 4
            else:
                return payload, None
    except ValueError:
        return payload, None
    return payload, None


# ---------------------------------------------------------------- key files

KEYS_FORMAT = "bmc-keys/1"
MANIFEST = "manifest.json"


def check_private(path: Path) -> None:
    """Refuse a key file (or directory) that others may read or write."""
    try:
        st = path.stat()
    except OSError as exc:
        raise AuthError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if st.st_mode & 0o077:
        what = "directory" if stat.S_ISDIR(st.st_mode) else "key file"
        want = "700" if stat.S_ISDIR(st.st_mode) else "600"
        raise AuthError(
            f"{path}: {what} is open to other users (mode {stat.S_IMODE(st.st_mode):03o}); "
            f"run `chmod {want} {path}` (keys must be readable by their owner only)"
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise AuthError(f"{path}: owned by another user (uid {st.st_uid}); keys must be the runner's own")


def refuse_existing(out: Path) -> None:
    """AuthError unless ``out`` is new or an empty directory: keys and passwords are never
    written over."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AuthError(f"{out}: exists and is not an empty directory (keys are never overwritten)")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file readable and writable by its owner only (never wider, not
    even for a moment: the mode is set at creation)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
