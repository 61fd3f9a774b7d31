"""MQTT transport: the ``Bus`` of real-time runs. The only package that imports aiomqtt.

One MQTT connection per node, so each node has its own Last Will (a retained
death certificate) and its own birth (Sparkplug B idea). Every connection:

- sets TCP_NODELAY (Nagle plus delayed ACK otherwise adds 40-90 ms per QoS 1
  exchange) and raises the in-flight window;
- reconnects with exponential backoff, resubscribes and is born again with a
  higher birth sequence, so a late will of an earlier life is recognisable;
- keeps inbound messages in per-channel queues: QoS 0 channels (tracks,
  truth) are bounded and drop their oldest entry when full (counted), so a
  track flood can never push out a fire order;
- counts sequence gaps per (sender, topic) link;
- publishes without awaiting and receives without a task per message, through
  the paho client under aiomqtt (``link.PahoLink``, the one module that imports
  paho and reaches below aiomqtt's public API).

Node code never sees any of this: it publishes and reads the same ``Inbox``
mailboxes as on the in-process bus. Incoming messages wait in the queues
until the real-time pacer delivers them at the current simulated time.

Modules, one role each:

- ``config``: where and how to connect (``BrokerConfig``, ``Login``), and the one
  place an aiomqtt client is built;
- ``link``: the paho hot path under a connected aiomqtt client;
- ``endpoint``: one node's connection (publish, subscribe, births and wills,
  inbound queues, reconnection);
- ``bus``: all connections of one process, their counters, the monitor's taps;
- ``raw``: a connection that publishes recorded payloads as they are (replay).
"""

from protocols.mqtt.bus import MqttBus, MqttStats
from protocols.mqtt.config import BrokerConfig, BrokerError, Login
from protocols.mqtt.endpoint import (
    OUTBOX_LIMIT,
    QOS0_QUEUE,
    QOS1_QUEUE,
    STABLE_S,
    TOPIC_CACHE,
    Delivered,
    MqttEndpoint,
    birth_base,
)
from protocols.mqtt.raw import RawPublisher

__all__ = [
    "OUTBOX_LIMIT",
    "QOS0_QUEUE",
    "QOS1_QUEUE",
    "STABLE_S",
    "TOPIC_CACHE",
    "BrokerConfig",
    "BrokerError",
    "Delivered",
    "Login",
    "MqttBus",
    "MqttEndpoint",
    "MqttStats",
    "RawPublisher",
    "birth_base",
]
