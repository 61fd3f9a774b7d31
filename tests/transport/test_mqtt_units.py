"""Small, fast checks of the transport parts: broker URLs, the real-time pacer, births and wills."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import simpy

from bmc.engine.clock import Pacer, sleep_until
from protocols import messages as m
from protocols.mqtt import BrokerConfig, BrokerError
from tests.transport.conftest import (
    BmcProcess,
    BmcRunner,
    Broker,
    Subscriber,
    short_single_engagement,
    write_scenario,
)

pytestmark = pytest.mark.mqtt

# ---------------------------------------------------------------- BrokerConfig.from_url


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "user", "password"),
    [
        ("mqtt://127.0.0.1", "127.0.0.1", 1883, False, None, None),
        ("mqtt://127.0.0.1:1884", "127.0.0.1", 1884, False, None, None),
        ("tcp://localhost", "localhost", 1883, False, None, None),
        ("mqtts://broker.example", "broker.example", 8883, True, None, None),
        ("ssl://broker.example", "broker.example", 8883, True, None, None),
        ("mqtts://broker.example:9000", "broker.example", 9000, True, None, None),
        ("mqtt://alice:s%3Acr%40t@127.0.0.1:1884", "127.0.0.1", 1884, False, "alice", "s:cr@t"),
        ("mqtt://bob@127.0.0.1", "127.0.0.1", 1883, False, "bob", None),
    ],
)
def test_from_url_parses(
    url: str, host: str, port: int, tls: bool, user: str | None, password: str | None
) -> None:
    cfg = BrokerConfig.from_url(url)
    assert (cfg.host, cfg.port, cfg.tls, cfg.username, cfg.password) == (host, port, tls, user, password)


def test_from_url_tls_option_changes_the_default_port_and_none_options_are_ignored() -> None:
    cfg = BrokerConfig.from_url("mqtt://127.0.0.1", tls=True, client_id="rig", username=None)
    assert (cfg.port, cfg.tls, cfg.client_id, cfg.username) == (8883, True, "rig", None)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:1883", "mqtt://"),
        ("127.0.0.1:1883", "mqtt://"),
        ("mqtt://127.0.0.1:99999", "port"),
        ("mqtt://127.0.0.1:abc", "port"),
        ("mqtt://:1883", "host"),
    ],
)
def test_from_url_refuses_bad_urls_and_quotes_them(url: str, words: str) -> None:
    with pytest.raises(BrokerError) as info:
        BrokerConfig.from_url(url)
    assert repr(url) in str(info.value)
    assert words in str(info.value)


def test_from_url_refuses_port_zero() -> None:
    url = "mqtt://127.0.0.1:0"
    try:
        cfg = BrokerConfig.from_url(url)
    except BrokerError as exc:
        assert repr(url) in str(exc) or "port" in str(exc)
    else:
        raise AssertionError(f"{url!r} accepted as port {cfg.port}")


@pytest.mark.parametrize(
    "options",
    [{"cert_file": "client.crt"}, {"key_file": "client.key"}],
)
def test_client_certificate_needs_both_files(options: dict[str, str]) -> None:
    with pytest.raises(BrokerError, match="both"):
        BrokerConfig(tls=True, **options)
    with pytest.raises(BrokerError, match="both"):
        BrokerConfig.from_url("mqtts://broker.example", **options)


@pytest.mark.parametrize(("field", "value"), [("port", 0), ("port", 70000), ("keepalive_s", 0)])
def test_config_values_are_checked_and_quoted(field: str, value: int) -> None:
    with pytest.raises(BrokerError, match=f"got {value}"):
        BrokerConfig(**{field: value})  # type: ignore[arg-type]


def test_cli_refuses_a_bad_broker_url(tmp_path: Path, bmc: BmcRunner) -> None:
    path = write_scenario(tmp_path, short_single_engagement(), "s.yaml")
    url = "ftp://127.0.0.1:1883"
    p = bmc.run("node", "L1", "--scenario", str(path), "--mqtt", url, timeout_s=30)
    assert p.proc.returncode == 2, p.describe()
    assert repr(url) in p.stderr() and "Traceback" not in p.stderr(), p.describe()


# ---------------------------------------------------------------- Pacer without a broker


def test_pacer_keeps_to_the_wall_clock_and_records_lateness() -> None:
    env = simpy.Environment()
    ticks: list[float] = []

    def ticker() -> Any:
        while True:
            ticks.append(env.now)
            yield env.timeout(0.125)  # exact in binary: no tick lands a hair before 1.0

    env.process(ticker())
    pacer = Pacer(env, speed=10.0)
    t0 = time.perf_counter()
    asyncio.run(pacer.run(1.0, lambda: 0))
    wall = time.perf_counter() - t0
    assert env.now == pytest.approx(1.0)
    assert ticks == [0.125 * k for k in range(8)]
    # 1 s simulated at 10x: 0.1 s wall; never early (the last deadline is spun to), not much late.
    assert 0.1 <= wall <= 0.2, wall
    assert len(pacer.lateness_s) >= 8
    assert min(pacer.lateness_s) >= 0.0
    summary = pacer.lateness_summary()
    assert summary["p99_ms"] is not None and summary["max_ms"] is not None
    assert summary["p99_ms"] < 50, summary


def test_pacer_wake_injects_at_the_current_simulated_time() -> None:
    env = simpy.Environment()
    deadlines: list[float] = []
    got: list[tuple[float, str]] = []
    injected: list[float] = []
    store = simpy.Store(env)
    pending: list[str] = []

    def ticker() -> Any:
        while True:
            deadlines.append(env.now)
            yield env.timeout(0.5)

    def consumer() -> Any:
        while True:
            item = yield store.get()
            got.append((env.now, item))

    env.process(ticker())
    env.process(consumer())
    pacer = Pacer(env, speed=10.0)

    def deliver() -> int:
        n = len(pending)
        for item in pending:
            injected.append(env.now)
            store.put(item)
        pending.clear()
        return n

    async def outside() -> None:
        await asyncio.sleep(0.025)  # 0.25 s simulated: half-way between the 0.0 and 0.5 deadlines
        pending.append("external")
        pacer.wake()

    async def main() -> None:
        await asyncio.gather(pacer.run(1.0, deliver), outside())

    asyncio.run(main())
    assert deadlines == [0.0, 0.5]
    assert len(injected) == 1
    t = injected[0]
    assert 0.0 < t < 0.5, t
    assert t == pytest.approx(0.25, abs=0.15)
    # The consumer had it at that same simulated time, not at the next deadline.
    assert got == [(pytest.approx(t), "external")]
    assert env.now == pytest.approx(1.0)


def test_pacer_delivers_a_message_arriving_just_before_a_deadline_after_its_events() -> None:
    # Delivered at once, its node work could make the deadline late: it waits for the deadline.
    env = simpy.Environment()
    log: list[tuple[str, float]] = []
    store = simpy.Store(env)
    pending: list[str] = []

    def ticker() -> Any:
        while True:
            yield env.timeout(0.5)
            log.append(("tick", env.now))

    def consumer() -> Any:
        while True:
            item = yield store.get()
            log.append((item, env.now))

    env.process(ticker())
    env.process(consumer())
    pacer = Pacer(env, speed=10.0)

    def deliver() -> int:
        for item in pending:
            store.put(item)
        n = len(pending)
        pending.clear()
        return n

    async def outside(t0: float) -> None:
        # 0.5 s simulated at 10x: 50 ms wall; arrive inside the guard window before it.
        await sleep_until(t0 + 0.05 - Pacer.GUARD_S / 2, spin_s=0.003)
        pending.append("external")
        pacer.wake()

    async def main() -> None:
        await asyncio.gather(pacer.run(0.75, deliver), outside(time.perf_counter()))

    asyncio.run(main())
    assert log[0] == ("tick", 0.5)
    name, t = log[1]
    assert name == "external"
    # Right after the deadline's events: at most the guard window later, in simulated time.
    assert 0.5 <= t <= 0.5 + 2 * Pacer.GUARD_S * 10, t
    assert min(pacer.lateness_s) >= 0.0


def test_pacer_refuses_a_bad_speed() -> None:
    with pytest.raises(ValueError, match="got 0"):
        Pacer(simpy.Environment(), speed=0)


# ---------------------------------------------------------------- births and wills on the broker


def _state(sub: Subscriber, status: m.NodeStatus, after: int = 0, watch: Sequence[BmcProcess] = ()) -> Any:
    return sub.wait_for(
        lambda s: (
            isinstance(s.body, m.NodeState) and s.body.status == status and s.body.birth_sequence > after
        ),
        30,
        f"{status.name} of L1",
        watch=watch,
    )


def test_birth_is_retained_and_the_will_is_a_death_of_that_life(
    tmp_path: Path, broker: Broker, bmc: BmcRunner, subscriber: Any
) -> None:
    data = short_single_engagement()
    path = write_scenario(tmp_path, data, "s.yaml")
    topic = f"bmc/v1/{data['name']}/launcher/L1/state"
    live: Subscriber = subscriber(topic)
    args = ("node", "L1", "--scenario", str(path), "--mqtt", broker.url, "--wait", "60")
    node = bmc(*args, name="L1-first")

    birth = _state(live, m.NodeStatus.BIRTH, watch=[node])
    assert birth.msg.header.sender == "L1"
    assert (birth.body.node_id, birth.body.kind) == ("L1", "launcher")
    # A client arriving later gets the birth as a retained message.
    late = subscriber(topic).wait_for(lambda s: True, 5, "retained state")
    assert late.retain and late.body == birth.body

    node.kill(signal.SIGKILL)
    death = _state(live, m.NodeStatus.DEATH)
    assert death.body.birth_sequence == birth.body.birth_sequence
    assert death.body.node_id == "L1"
    retained = subscriber(topic).wait_for(lambda s: True, 5, "retained state")
    assert retained.retain and retained.body.status == m.NodeStatus.DEATH
    assert retained.body.birth_sequence == birth.body.birth_sequence

    second = bmc(*args, name="L1-second")
    reborn = _state(live, m.NodeStatus.BIRTH, after=birth.body.birth_sequence, watch=[second])
    assert reborn.body.birth_sequence > death.body.birth_sequence
