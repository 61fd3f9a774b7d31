"""A connection that publishes recorded payloads as they are: the replay's publisher."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import aiomqtt

from protocols.mqtt.config import BrokerConfig, BrokerError


class RawPublisher:
    """One connection that publishes raw payloads as they are (a replay of a recording):
    no header stamping, no birth, no will. TCP_NODELAY and a wide in-flight window, as
    the nodes' connections. Use as ``async with RawPublisher(cfg) as pub: pub.send(...)``.

    ``send`` never waits: publications leave in call order (one task each, started in
    order); a lost connection surfaces as :class:`BrokerError` from the next ``send``
    or from ``drain``.
    """

    def __init__(
        self, broker: BrokerConfig, client_id: str | None = None, connect_timeout_s: float = 10.0
    ) -> None:
        self.broker = broker
        self.client_id = client_id or f"{broker.client_id}-replay-{os.getpid()}"
        self.connect_timeout_s = connect_timeout_s
        self.sent = 0
        self.failed = 0
        self.handed_s: list[float] = []
        """``time.perf_counter()`` when each ``send`` reached the client, in call order (the clock of
        ``bmc.engine.clock.wall_seconds``): what a replay measures its pacing with."""
        self._error: str | None = None
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RawPublisher:
        cfg = self.broker
        client = cfg.client(self.client_id, timeout_s=self.connect_timeout_s)
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            raise BrokerError(f"cannot reach the broker at {cfg.host}:{cfg.port}: {exc}") from None
        self._client = client
        return self

    def send(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish ``payload`` on ``topic`` without waiting for the broker."""
        if self._error is not None:
            raise BrokerError(self._error)
        client = self._client
        if client is None:
            raise BrokerError("publisher is not connected")
        task = asyncio.get_running_loop().create_task(self._publish(client, topic, payload, qos, retain))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(
        self, client: aiomqtt.Client, topic: str, payload: bytes, qos: int, retain: bool
    ) -> None:
        # The client writes the packet synchronously inside publish(), right after this stamp.
        self.handed_s.append(time.perf_counter())
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=30)
            self.sent += 1
        except aiomqtt.MqttError as exc:
            self.failed += 1
            if self._error is None:
                cfg = self.broker
                self._error = f"publishing to {cfg.host}:{cfg.port} failed: {exc}"

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until every publication so far is acknowledged (QoS 1) or written (QoS 0)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)
        if self._error is not None:
            raise BrokerError(self._error)
        if self._tasks:
            raise BrokerError(f"{len(self._tasks)} publication(s) unconfirmed after {timeout_s:g} s")

    async def __aexit__(self, *exc: object) -> None:
        client, self._client = self._client, None
        for task in list(self._tasks):
            task.cancel()
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, asyncio.TimeoutError):
                await client.__aexit__(None, None, None)
