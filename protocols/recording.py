"""Message logs: the canonical record of one published message, and MCAP recordings.

A recording is an MCAP file (https://mcap.dev), the open log format Foxglove and
the ``mcap`` tools read:

- one channel per topic, message encoding ``protobuf``, all sharing one schema,
  ``bmc.v1.Envelope``, embedded as a ``FileDescriptorSet``: any MCAP tool decodes
  every payload without our code;
- per message: ``log_time`` = the recording's start (``started_unix_ns``: the wall clock
  when simulated time was 0) plus simulated time, in integer nanoseconds since the Unix
  epoch, so MCAP tools and Foxglove show the run on its real date (format 1 recordings,
  and recordings made without a wall clock, count from 0); ``publish_time`` = wall clock
  in nanoseconds since the Unix epoch when the recorder saw it (read once at the start,
  then monotonic), ``sequence`` = the message's index in the recording (a gap shows lost
  messages), ``data`` = the payload bytes exactly as the bus carried them;
- extra channels of other encodings beside the bus's (``Recorder.extra_channel``), such as
  ``/foxglove/...`` channels of Foxglove's own schemas for its Map panel: in the same
  sequence, never yielded by ``Recording.messages()`` (which is the bus's log);
- the exact simulated time (a float64, as the run digest hashes it) is the
  header's ``sim_time_s``; the rare message whose bus time differs from its
  header's is listed in the closing ``bmc.recording.end`` metadata;
- metadata records: ``bmc.recording`` (format, written first), the caller's
  records at the start (e.g. ``bmc.scenario``) and at close (e.g. ``bmc.run``),
  ``bmc.deliveries`` when a node's inputs were logged (:class:`DeliveryLog`),
  then ``bmc.recording.end`` (message count, time overrides);
- file order is bus order (in real-time runs, the order the monitor heard the
  messages, whose ``log_time`` may then step back by a few milliseconds, or be a
  stale retained message's from an earlier run);
- chunks of ``CHUNK_SIZE`` (``REALTIME_CHUNK_SIZE`` in real-time runs, a few
  seconds each), lz4-compressed (zstd, or none, when the installed mcap lacks
  lz4: zstd files are ~12 % smaller, but compressing them slowed a saturation-raid
  run by ~10 % against ~2 % for lz4), written straight to the OS: a process
  killed outright leaves every finished chunk readable.

Reading is tolerant: a damaged chunk is skipped and reported, a truncated file
yields every message before the damage, and then a :class:`RecordingError`
says where reading stopped. Never a traceback.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata as _dist
from io import BytesIO
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from mcap.data_stream import ReadDataStream
from mcap.opcode import Opcode
from mcap.records import Channel, Chunk, Message, Metadata
from mcap.stream_reader import get_chunk_data_stream
from mcap.writer import CompressionType, Writer

from protocols import codec
from protocols import messages as m
from protocols.errors import UsageError
from protocols.topics import parse_topic

log = logging.getLogger(__name__)

FORMAT = "bmc-recording/2"
"""Value of ``bmc.recording``'s ``format`` key; bumped on an incompatible change (2: ``log_time``
anchored at the start's wall clock, extra channels). Both are read."""

RECORDING_METADATA = "bmc.recording"
END_METADATA = "bmc.recording.end"
SCENARIO_METADATA = "bmc.scenario"
RUN_METADATA = "bmc.run"
DELIVERIES_METADATA = "bmc.deliveries"

CHUNK_SIZE = 128 << 10
"""Bytes of messages per compressed chunk: a damaged chunk loses at most this much."""

REALTIME_CHUNK_SIZE = 16 << 10
"""Chunk size for real-time runs: a run killed outright loses only its open chunk, a few seconds."""

_MAGIC = b"\x89MCAP0\r\n"
_U32 = 0xFFFFFFFF


class RecordingError(UsageError, ValueError):
    """A recording that cannot be written, or read to its end. ``str()`` is one line naming
    the file and where it stopped; what was read before still counts."""


def _compression(name: str) -> CompressionType:
    """``name`` when the installed mcap can write it, else lz4, else zstd, else none."""
    from mcap import writer as w

    available = {
        "zstd": CompressionType.ZSTD if getattr(w, "zstandard", None) is not None else None,
        "lz4": CompressionType.LZ4 if getattr(w, "lz4", None) is not None else None,
        "none": CompressionType.NONE,
    }
    if name not in available:
        raise ValueError(f"compression must be zstd, lz4 or none (got {name!r})")
    for choice in (name, "lz4", "zstd", "none"):
        found = available[choice]
        if found is not None:
            return found
    return CompressionType.NONE


def _library() -> str:
    try:
        bmc = _dist.version("bmc-emulator")
    except _dist.PackageNotFoundError:
        bmc = "unknown"
    try:
        mcap = _dist.version("mcap")
    except _dist.PackageNotFoundError:
        mcap = "unknown"
    return f"bmc {bmc}; mcap-python {mcap}"


# ---------------------------------------------------------------- writing


class _WriteThrough:
    """An unbuffered output file: each finished chunk reaches the OS at once, so a process
    killed outright leaves every finished chunk readable. (mcap's writer would wrap a raw
    file in a buffer; this is not a RawIOBase, so it does not.)"""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "wb", buffering=0)  # noqa: SIM115 -- closed by close()

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            n = self._f.write(view)
            view = view[n or 0 :]
        return len(data)

    def tell(self) -> int:
        return self._f.tell()

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self._f.close()


def payload_digest(payload: bytes) -> str:
    """Short name of a payload's bytes, by which a delivery finds its recorded message."""
    return hashlib.blake2b(payload, digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message handed to a node: when, in which order, and which one."""

    time_s: float
    """Simulated time of the node's clock when the message was handed over."""
    published: int
    """Messages the node had published by then (its own publications at the same time
    that came before this delivery)."""
    topic: str
    digest: str
    """:func:`payload_digest` of the payload."""


class DeliveryLog:
    """Every delivery to one node of a real-time run, in order (an ``MqttEndpoint.on_deliver``).

    A monitor hears messages when the broker sends them to it; the node hears them when its
    pacer hands them over, at a simulated time that can lie a whole node cycle away. Replaying
    a node's inputs exactly needs the second: it is kept here and written at close as the
    ``bmc.deliveries`` metadata record."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.entries: list[tuple[float, int, str, str]] = []

    def __call__(self, time_s: float, topic: str, payload: bytes, published: int) -> None:
        self.entries.append((time_s, published, topic, payload_digest(payload)))

    def metadata(self) -> dict[str, str]:
        """The metadata record: JSON keeps every float exact (it writes the shortest repr)."""
        return {"node": self.node_id, "entries": json.dumps(self.entries, separators=(",", ":"))}


class Recorder:
    """A bus tap that writes every message it sees to an MCAP file.

    ``metadata`` records are written at the start; ``close(metadata)`` adds the
    closing ones and the index. ``wall_ns`` stamps each message's publish time
    (None: publish time = log time, e.g. for byte-identical files in tests).
    A write error (disk full) stops the recording, never the run: ``close``
    then raises :class:`RecordingError`.
    """

    def __init__(
        self,
        path: str | Path,
        metadata: Mapping[str, Mapping[str, str]] | None = None,
        *,
        wall_ns: Callable[[], int] | None = None,
        compression: str = "lz4",
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.path = Path(path)
        self.count = 0
        """Messages recorded so far."""
        self.error: str | None = None
        self._wall_ns = wall_ns
        started = wall_ns() if wall_ns else None
        self.base_ns = started or 0
        """``log_time`` of simulated time 0: the wall clock at the start (0 without one)."""
        self._channels: dict[str, int] = {}
        self._overrides: dict[int, float] = {}
        self._extra: set[int] = set()
        self.extra_count = 0
        """Messages written on extra channels (counted in ``count`` too)."""
        self.also: Callable[[float, str, m.Message], None] | None = None
        """Called after each recorded message (e.g. to write extra channels from it); if it
        fails it is logged and dropped, the recording goes on. Its ``flush()``, if it has one,
        is called before the recording closes."""
        self._deliveries: DeliveryLog | None = None
        self._finished = False
        try:
            self._file = _WriteThrough(self.path)
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot write recording: {exc.strerror or exc}") from None
        self.compression = _compression(compression)
        try:
            # Writer needs only write() and tell(), which _WriteThrough has.
            out = cast(IO[bytes], self._file)
            self._writer = Writer(out, chunk_size=chunk_size, compression=self.compression)
            self._writer.start(profile="", library=_library())
            self._schema = self._writer.register_schema(
                name=codec.ENVELOPE_SCHEMA, encoding="protobuf", data=codec.envelope_file_descriptor_set()
            )
            self._writer.add_metadata(
                RECORDING_METADATA,
                {
                    "format": FORMAT,
                    "log_time": "log_time_base_ns + simulated time, ns (exact: the header's sim_time_s)",
                    "log_time_base_ns": str(self.base_ns),
                    "publish_time": "wall clock, ns since the Unix epoch" if wall_ns else "= log_time",
                    "sequence": "index of the message in the recording",
                    "started_unix_ns": "" if started is None else str(started),
                },
            )
            for name, data in (metadata or {}).items():
                self._writer.add_metadata(name, dict(data))
        except OSError as exc:
            self._file.close()
            raise RecordingError(f"{self.path}: cannot write recording: {exc.strerror or exc}") from None

    def delivery_log(self, node_id: str) -> DeliveryLog:
        """Log what ``node_id`` is handed, written with the recording at close (one node)."""
        self._deliveries = DeliveryLog(node_id)
        return self._deliveries

    def _channel(self, topic: str) -> int:
        parts = parse_topic(topic)
        meta = {"qos": str(parts.channel.qos), "retain": str(parts.channel.retained).lower()} if parts else {}
        cid = self._writer.register_channel(
            topic=topic, message_encoding="protobuf", schema_id=self._schema, metadata=meta
        )
        self._channels[topic] = cid
        return cid

    def __call__(self, time_s: float, topic: str, payload: bytes, msg: m.Message) -> None:
        """The tap: record one message published at simulated ``time_s``."""
        if self._finished or self.error is not None:
            return
        if msg.header.sim_time_s != time_s or time_s < 0:
            self._overrides[self.count] = float(time_s)
        if not self._add(time_s, payload, topic=topic):
            return
        if self.also is not None:
            try:
                self.also(time_s, topic, msg)
            except Exception:  # an annotation must never cost the recording
                log.exception("%s: extra channels stopped", self.path)
                self.also = None

    def extra_channel(
        self, topic: str, schema_name: str, schema_encoding: str, schema: bytes, encoding: str
    ) -> int:
        """A channel of another encoding (e.g. ``json`` messages of a ``jsonschema``) for
        :meth:`write_extra`; its topic must not be a bus topic."""
        if parse_topic(topic) is not None:
            raise ValueError(f"{topic!r} is a bus topic: extra channels take others (e.g. /foxglove/...)")
        sid = self._writer.register_schema(name=schema_name, encoding=schema_encoding, data=schema)
        cid = self._writer.register_channel(topic=topic, message_encoding=encoding, schema_id=sid)
        self._extra.add(cid)
        return cid

    def write_extra(self, channel: int, time_s: float, data: bytes) -> None:
        """One message on an extra channel at simulated ``time_s`` (in the recording's sequence)."""
        if self._finished or self.error is not None:
            return
        if self._add(time_s, data, channel=channel):
            self.extra_count += 1

    def _add(self, time_s: float, data: bytes, *, topic: str = "", channel: int | None = None) -> bool:
        """Write one message at simulated ``time_s``, next in the sequence, on ``channel`` or on
        ``topic``'s bus channel (registered on first use). False when the write failed: the
        recording then stops, with ``error`` saying why."""
        index = self.count
        log_ns = self.base_ns + (round(time_s * 1e9) if time_s > 0 else 0)
        try:
            if channel is None:
                channel = self._channels.get(topic)
                if channel is None:
                    channel = self._channel(topic)
            self._writer.add_message(
                channel, log_ns, data, self._wall_ns() if self._wall_ns else log_ns, index & _U32
            )
        except OSError as exc:
            self.error = f"recording stopped after {index} messages: {exc.strerror or exc}"
            return False
        self.count = index + 1
        return True

    def close(self, metadata: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """Write the closing metadata and the index, close the file (once; later calls do nothing).
        Raises :class:`RecordingError` when the recording could not be written completely."""
        if self._finished:
            return
        flush = getattr(self.also, "flush", None)
        if flush is not None:  # what ``also`` holds back is written before the end
            try:
                flush()
            except Exception:
                log.exception("%s: extra channels stopped", self.path)
        self._finished = True
        try:
            if self.error is None:
                for name, data in (metadata or {}).items():
                    self._writer.add_metadata(name, dict(data))
                if self._deliveries is not None:
                    self._writer.add_metadata(DELIVERIES_METADATA, self._deliveries.metadata())
                self._writer.add_metadata(
                    END_METADATA,
                    {
                        "messages": str(self.count),
                        "time_overrides": json.dumps({str(k): v for k, v in self._overrides.items()}),
                    },
                )
                self._writer.finish()  # type: ignore[no-untyped-call]
        except OSError as exc:
            self.error = f"cannot finish the recording: {exc.strerror or exc}"
        finally:
            try:
                self._file.close()
            except OSError as exc:
                self.error = self.error or f"cannot close the recording: {exc.strerror or exc}"
        if self.error is not None:
            raise RecordingError(f"{self.path}: {self.error}")

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """One recorded message."""

    index: int
    """Position in the recording (its MCAP sequence)."""
    time_s: float
    """Exact simulated time the bus published it at."""
    topic: str
    payload: bytes
    """The bytes the bus carried (a ``bmc.v1.Envelope``)."""
    log_time_ns: int
    """Simulated time, integer nanoseconds (what MCAP tools show)."""
    wall_ns: int
    """Wall clock when recorded, ns since the Unix epoch (= log time if none was kept)."""


@dataclass(slots=True)
class Recording:
    """An MCAP recording opened for reading: its metadata up front, messages streamed."""

    path: Path
    metadata: dict[str, dict[str, str]]
    """Metadata records by name (the ones readable before any damage)."""
    complete: bool
    """True when the file ends with its index and footer (it was closed properly)."""
    message_count: int | None = None
    """From the index of a complete file; None otherwise."""
    start_ns: int | None = None
    end_ns: int | None = None
    """log_time of the first and last message, from the index of a complete file (less
    :attr:`base_ns`: simulated ns)."""
    damage: str | None = None
    """Why a scan of an incomplete file stopped (None for a complete file); ``messages()`` says more."""
    channels: dict[int, str] = field(default_factory=dict)
    """Channel id -> topic, from the index of a complete file (so a damaged chunk loses no topic)."""
    extra_channels: set[int] = field(default_factory=set)
    """Channels not of the bus (another message encoding), from the index."""
    problems: list[str] = field(default_factory=list)
    """What reading ``messages()`` found damaged (also raised as one RecordingError at its end)."""
    messages_read: int = 0
    """Messages ``messages()`` yielded so far."""

    def meta(self, name: str) -> dict[str, str]:
        """One metadata record ({} when absent)."""
        return self.metadata.get(name, {})

    @property
    def base_ns(self) -> int:
        """``log_time`` of simulated time 0 (0 for format 1 recordings)."""
        text = self.meta(RECORDING_METADATA).get("log_time_base_ns", "")
        return int(text) if text.isdigit() else 0

    def deliveries(self) -> tuple[str, list[Delivery]] | None:
        """(node id, its deliveries in order) when the recording logged a node's inputs, None
        when it did not or the record is unreadable."""
        record = self.meta(DELIVERIES_METADATA)
        try:
            rows = json.loads(record["entries"])
            out = [Delivery(float(t), int(n), str(topic), str(d)) for t, n, topic, d in rows]
            return str(record["node"]), out
        except (KeyError, ValueError, TypeError):
            return None

    def messages(self) -> Iterator[RecordedMessage]:
        """Every readable message in recorded (bus) order.

        When part of the file is damaged, yields what is readable and then raises one
        :class:`RecordingError` naming the file, the byte offsets and what was lost."""
        overrides = _overrides(self.meta(END_METADATA))
        self.problems = []
        self.messages_read = 0
        topics: dict[int, str] = dict(self.channels)
        extras = set(self.extra_channels)
        base = self.base_ns
        last_time: float | None = None
        expected = 0
        lost = 0
        extra = 0
        try:
            f = open(self.path, "rb")  # noqa: SIM115 -- closed in finally
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        try:
            walk = _Walk(f, self.path)
            for offset, opcode, body in walk:
                if opcode == Opcode.CHANNEL:
                    ch = _parse(Channel.read, body)
                    if ch is not None:
                        topics[ch.id] = ch.topic
                        if ch.message_encoding != "protobuf":
                            extras.add(ch.id)
                    continue
                if opcode == Opcode.MESSAGE:
                    msg = _parse(functools.partial(_read_message, length=len(body)), body)
                    batch: Iterable[Any] = [] if msg is None else [msg]
                elif opcode == Opcode.CHUNK:
                    chunk = _parse(Chunk.read, body)
                    try:
                        if chunk is None:
                            raise ValueError("bad chunk header")
                        # Decompress and check the CRC now, parse records lazily: a replay
                        # must not stall for a whole chunk's parsing between two messages.
                        batch = _chunk_records(*get_chunk_data_stream(chunk, validate_crc=True))
                    except Exception as exc:  # a parser over damaged bytes can raise anything
                        when = ""
                        if chunk is not None and chunk.message_end_time >= chunk.message_start_time:
                            when = (
                                f", simulated {(chunk.message_start_time - base) / 1e9:.3f}"
                                f"-{(chunk.message_end_time - base) / 1e9:.3f} s"
                            )
                        self.problems.append(f"chunk at byte {offset:,} unreadable ({_why(exc)}{when})")
                        continue
                else:
                    continue
                for rec in _guarded(batch, self.problems, offset):
                    if isinstance(rec, Channel):
                        topics[rec.id] = rec.topic
                        if rec.message_encoding != "protobuf":
                            extras.add(rec.id)
                        continue
                    if not isinstance(rec, Message):
                        continue
                    topic = topics.get(rec.channel_id)
                    index = rec.sequence
                    if index != expected & _U32:
                        gap = (index - expected) & _U32
                        lost += gap
                        expected += gap
                    expected += 1
                    if topic is None:
                        lost += 1
                        continue
                    if rec.channel_id in extras:  # an extra channel (Foxglove's): not the bus's log
                        extra += 1
                        continue
                    time_s = overrides.get(expected - 1)
                    if time_s is None:
                        try:
                            time_s = codec.header_of(rec.data).sim_time_s
                        except codec.DecodeError:
                            time_s = (rec.log_time - base) / 1e9
                    last_time = time_s
                    self.messages_read += 1
                    yield RecordedMessage(
                        expected - 1, time_s, topic, rec.data, rec.log_time, rec.publish_time
                    )
            if lost:
                self.problems.append(f"{lost:,} message(s) lost in damaged chunks")
            if walk.stopped is not None:
                self.problems.append(walk.stopped)
            elif self.message_count is not None and self.messages_read + extra + lost < self.message_count:
                self.problems.append(
                    f"index lists {self.message_count:,} messages, found {self.messages_read:,}"
                )
        finally:
            f.close()
        if self.problems:
            upto = "" if last_time is None else f" up to simulated {last_time:.3f} s"
            raise RecordingError(
                f"{self.path}: damaged recording: {'; '.join(self.problems)}; "
                f"read {self.messages_read:,} message(s){upto}"
            )


def _overrides(end: Mapping[str, str]) -> dict[int, float]:
    try:
        raw = json.loads(end.get("time_overrides") or "{}")
        return {int(k): float(v) for k, v in raw.items()}
    except (ValueError, TypeError, AttributeError):
        return {}


def _guarded(records: Iterable[Any], problems: list[str], offset: int) -> Iterator[Any]:
    try:
        yield from records
    except Exception as exc:  # records of a chunk without CRC can be damaged anywhere
        problems.append(f"chunk at byte {offset:,} partly unreadable ({_why(exc)})")


def _chunk_records(stream: ReadDataStream, size: int) -> Iterator[Any]:
    """Channel and Message records of a decompressed, CRC-checked chunk, parsed one at a time."""
    while stream.count < size:
        opcode = stream.read1()
        length = stream.read8()
        if opcode == Opcode.MESSAGE:
            yield Message.read(stream, length)
        elif opcode == Opcode.CHANNEL:
            yield Channel.read(stream)
        else:
            stream.read(length)


def _read_message(stream: ReadDataStream, length: int) -> Message:
    return Message.read(stream, length)  # type: ignore[no-any-return]


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _parse(read: Callable[[ReadDataStream], Any], body: bytes) -> Any:
    try:
        return read(ReadDataStream(BytesIO(body)))
    except Exception:  # a damaged record is skipped; its chunk or sequence gap is reported
        return None


class _Walk:
    """Iterates (offset, opcode, body) over an MCAP file's top-level records by their framing
    alone, so a damaged record body never desynchronises it; ``stopped`` says why it ended early."""

    def __init__(self, f: BinaryIO, path: Path) -> None:
        self.f = f
        self.path = path
        f.seek(0, 2)
        self.size = f.tell()
        f.seek(0)
        self.stopped: str | None = None
        self.footer = False

    def __iter__(self) -> Iterator[tuple[int, int, bytes]]:
        f, size = self.f, self.size
        if f.read(8) != _MAGIC:
            self.stopped = "not an MCAP file (no MCAP magic at byte 0)" if size else "empty file"
            return
        while True:
            offset = f.tell()
            head = f.read(9)
            if len(head) < 9:
                self.stopped = f"truncated at byte {offset:,} of {size:,} (no index or footer)"
                return
            opcode, length = struct.unpack("<BQ", head)
            if length > size - offset - 9:
                self.stopped = (
                    f"truncated or corrupt at byte {offset:,} of {size:,} "
                    f"(a record claims {length:,} bytes, {size - offset - 9:,} remain)"
                )
                return
            body = f.read(length)
            if opcode == Opcode.FOOTER:
                self.footer = True
                if f.read(8) != _MAGIC:
                    self.stopped = f"corrupt end of file after byte {offset:,} (no closing MCAP magic)"
                return
            # Unknown record types are skipped by the caller, as the MCAP spec asks; damage
            # inside a chunk shows as a CRC failure and a gap in the message sequence.
            yield offset, opcode, body


def read_recording(path: str | Path) -> Recording:
    """Open a recording: its metadata now, its messages with ``messages()``.

    Raises :class:`RecordingError` (one line) only when nothing can be read at all."""
    p = Path(path)
    try:
        f = open(p, "rb")  # noqa: SIM115 -- closed in finally
    except OSError as exc:
        raise RecordingError(f"{p}: cannot read: {exc.strerror or exc}") from None
    try:
        rec = _from_index(f, p)
        if rec is not None:
            return rec
        f.seek(0)
        walk = _Walk(f, p)
        metadata: dict[str, dict[str, str]] = {}
        for _offset, opcode, body in walk:
            if opcode == Opcode.METADATA:
                meta = _parse(Metadata.read, body)
                if meta is not None:
                    metadata[meta.name] = dict(meta.metadata)
        if walk.stopped and walk.stopped.startswith(("not an MCAP", "empty")):
            raise RecordingError(f"{p}: {walk.stopped}")
        return Recording(p, metadata, complete=walk.footer and walk.stopped is None, damage=walk.stopped)
    except OSError as exc:
        raise RecordingError(f"{p}: cannot read: {exc.strerror or exc}") from None
    finally:
        f.close()


def _from_index(f: BinaryIO, path: Path) -> Recording | None:
    """A complete file: metadata and counts from its index (no scan). None when there is no usable index."""
    from mcap.reader import SeekingReader

    try:
        reader = SeekingReader(f)
        summary = reader.get_summary()
        if summary is None:
            return None
        metadata = {md.name: dict(md.metadata) for md in reader.iter_metadata()}
    except Exception:  # no readable index: the caller scans the file instead
        return None
    stats = summary.statistics
    return Recording(
        path,
        metadata,
        complete=True,
        message_count=stats.message_count if stats else None,
        start_ns=stats.message_start_time if stats and stats.message_count else None,
        end_ns=stats.message_end_time if stats and stats.message_count else None,
        channels={cid: ch.topic for cid, ch in summary.channels.items()},
        extra_channels={cid for cid, ch in summary.channels.items() if ch.message_encoding != "protobuf"},
    )
