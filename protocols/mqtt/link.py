"""The paho client under a connected aiomqtt client, for the real-time hot paths.

The one module that imports paho (a declared dependency, ``paho-mqtt``) and the one
place that reaches below aiomqtt's public API; ``tests/transport/test_mqtt_link.py``
pins what it relies on. Why, measured: ``docs/ARCHITECTURE.md`` ("The paho link").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiomqtt
import paho.mqtt.client as paho

log = logging.getLogger(__name__)

Publication = tuple[str, bytes, int, bool]
"""(topic, payload, QoS, retain) of one outgoing message."""


class PahoLink:
    """The paho client under one connected ``aiomqtt.Client``, for the hot paths.

    aiomqtt 2.x awaits every publish (an Event, a ``wait_for`` task, and a count of
    every pending call, O(n), per message), registers its socket writer through
    ``call_soon_threadsafe`` (so a packet leaves two loop turns after the call), and
    passes every received message through an ``asyncio.Queue`` read by a new task per
    message. On the real-time path that glue costs more than the broker hop, so once
    connected this class takes over, on the paho client aiomqtt wraps
    (``aiomqtt.Client._client``, a private attribute), four paho callbacks:

    - ``on_socket_register_write``/``on_socket_unregister_write``: the socket writer is
      added and removed on the event loop at once, and not at all for a packet written
      on the spot. aiomqtt goes through ``call_soon_threadsafe`` only because paho
      connects in an executor thread; after the connection every paho call is made on
      the loop's thread;
    - ``on_message``: calls ``on_message(topic, payload)`` on the event loop, installed
      before subscribing, instead of aiomqtt's queue;
    - ``on_publish``: none. aiomqtt's ``publish`` would wait for it forever, so a linked
      connection publishes through the link only; ``publish_acknowledged`` waits for a
      QoS 1 acknowledgement by itself.

    ``publish`` queues the packet in paho and writes it at once (paho's public
    ``loop_write``); what the socket does not take, the writer finishes. What is not yet
    written (QoS 0) or acknowledged (QoS 1) is kept, so that a lost connection can count
    it or send it again. Connecting, subscribing, wills and noticing a disconnection
    (paho's ``on_disconnect``) stay with aiomqtt.
    ``tests/transport/test_mqtt_link.py`` checks all this against the installed aiomqtt;
    this constructor refuses a client without it.
    """

    def __init__(self, client: aiomqtt.Client, on_message: Callable[[str, object], None]) -> None:
        inner = getattr(client, "_client", None)
        if not isinstance(inner, paho.Client) or inner.socket() is None:
            raise RuntimeError(
                f"aiomqtt {aiomqtt.__version__} has no connected paho client in Client._client "
                f"(found {type(inner).__name__}): update protocols/mqtt/link.py"
            )
        self._paho = inner
        self._loop = asyncio.get_running_loop()
        self._unsettled: deque[tuple[paho.MQTTMessageInfo, str, bytes, int, bool]] = deque()
        self._in_callback = False
        self._writing = False
        """True while ``publish`` queues and writes a packet itself: no writer needed for it."""
        self._writer = False
        """True while this link has a writer on the event loop."""

        def handle(_client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
            try:
                topic = message.topic
            except UnicodeDecodeError:
                topic, payload = "<topic not UTF-8>", None
            else:
                payload = message.payload
            self._in_callback = True
            try:
                on_message(topic, payload)
            finally:
                self._in_callback = False

        inner.on_message = handle
        # For every QoS 0 packet it writes, paho builds a PUBACK reason code and property set
        # (~15 us) only to call on_publish, which serves aiomqtt's awaited publish alone: a
        # linked connection publishes through the link only (births and deaths included).
        inner.on_publish = None
        inner.on_socket_register_write = self._register_write
        inner.on_socket_unregister_write = self._unregister_write
        # aiomqtt may still have a writer of its own queued (call_soon_threadsafe): once it
        # has run, start from a known state.
        self._loop.call_soon(self._adopt_writer)

    def _adopt_writer(self) -> None:
        sock = self._paho.socket()
        if sock is None:
            return
        self._loop.remove_writer(sock.fileno())
        self._writer = False
        if self._paho.want_write():
            self._add_writer(sock)

    def _add_writer(self, sock: Any) -> None:
        self._writer = True
        self._loop.add_writer(sock.fileno(), self._writable)

    def _register_write(self, _client: paho.Client, _userdata: Any, sock: Any) -> None:
        if not self._writing:
            self._add_writer(sock)

    def _unregister_write(self, _client: paho.Client, _userdata: Any, sock: Any) -> None:
        if self._writer:
            self._writer = False
            self._loop.remove_writer(sock.fileno())

    def _writable(self) -> None:
        # Socket errors are handled inside paho (a disconnection that aiomqtt then reports);
        # an exception here can only come from a callback.
        try:
            self._paho.loop_write()
        except Exception:
            log.exception("writing to the broker failed")

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        """Send one message now (as far as the socket takes it); False when paho refuses it."""
        return self._publish(topic, payload, qos, retain, track=True) is not None

    async def publish_acknowledged(self, topic: str, payload: bytes, retain: bool, timeout_s: float) -> None:
        """Publish at QoS 1 and wait for the broker's acknowledgement (births and deaths: not
        kept for sending again, a later life's would follow). MqttError when that fails."""
        info = self._publish(topic, payload, 1, retain, track=False)
        deadline = time.monotonic() + timeout_s
        while info is None or not info.is_published():
            if info is None or self._paho.socket() is None:
                raise aiomqtt.MqttError(f"publishing on {topic} failed: not connected")
            if time.monotonic() > deadline:
                raise aiomqtt.MqttError(f"publishing on {topic}: no acknowledgement within {timeout_s:g} s")
            await asyncio.sleep(0.001)

    def _publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, track: bool
    ) -> paho.MQTTMessageInfo | None:
        client = self._paho
        if self._in_callback:
            # Inside paho's reader: leave the writing to the writer.
            info = client.publish(topic, payload, qos, retain)
        else:
            self._writing = True
            try:
                info = client.publish(topic, payload, qos, retain)
                if info.rc == paho.MQTT_ERR_SUCCESS:
                    self._writable()
            finally:
                self._writing = False
            if not self._writer and client.want_write():
                sock = client.socket()
                if sock is not None:
                    self._add_writer(sock)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return None
        if track:
            unsettled = self._unsettled
            while unsettled and unsettled[0][0].is_published():
                unsettled.popleft()
            unsettled.append((info, topic, payload, qos, retain))
        return info

    def unsettled(self) -> tuple[int, list[Publication]]:
        """QoS 0 messages never written, and QoS 1 messages never acknowledged, in order."""
        lost = 0
        resend: list[Publication] = []
        for info, topic, payload, qos, retain in self._unsettled:
            written = info.is_published() and info.rc == paho.MQTT_ERR_SUCCESS
            if written:
                continue
            if qos == 0:
                lost += 1
            else:
                resend.append((topic, payload, qos, retain))
        self._unsettled.clear()
        return lost, resend
