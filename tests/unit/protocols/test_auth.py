"""Seals, roles, the replay window and key files (protocols/auth.py, bmc/keys.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmc.cli import main
from bmc.keys import init_keys, load_keys, roles_of
from bmc.scenario import load_scenario
from protocols import auth, codec
from protocols import messages as m
from protocols.auth import AuthError, Keyring, Roles, derived_keys, split

ROOT = "bmc/v1/x"
ROLES = Roles("FDC", ("R1", "R2"), ("L1", "L2"))
KEYS = derived_keys("x", ROLES)
HB = f"{ROOT}/fdc/FDC/heartbeat"


def _heartbeat(seq: int, sender: str = "FDC") -> bytes:
    return codec.encode(m.Header(sender, seq, float(seq)), m.FdcHeartbeat("FDC", m.WeaponsControl.FREE))


def _ring(local: tuple[str, ...] = ROLES.nodes, epoch: int = 1) -> Keyring:
    return Keyring(ROLES, KEYS, local, epoch)


def test_a_sealed_message_is_accepted_once_by_each_of_its_receivers_only() -> None:
    fdc, l1 = _ring(("FDC",)), _ring(("L1",))
    payload = fdc.seal(ROOT, HB, "FDC", _heartbeat(1))
    content, seal = split(payload)
    assert content == _heartbeat(1) and seal is not None
    assert codec.decode(content).body == m.FdcHeartbeat("FDC", m.WeaponsControl.FREE)
    assert l1.check(ROOT, HB, "L1", "FDC", 1, payload) is None
    assert l1.check(ROOT, HB, "L1", "FDC", 1, payload) == "replay"
    # Heartbeats are sealed for launchers and the monitor, not for radars.
    assert _ring().check(ROOT, HB, "R1", "FDC", 1, payload) == "not_for_me"
    assert _ring().check(ROOT, HB, "monitor", "FDC", 1, payload) is None


def test_a_receiver_without_the_pair_key_cannot_check_nor_forge() -> None:
    # L2 holds no key with L1: it can neither verify L1's tag for the FDC nor make one.
    l2 = _ring(("L2",))
    topic = f"{ROOT}/launcher/L1/status"
    body = m.LauncherStatus("L1", m.LauncherState.HOLD, 0, (0.0, 0.0, 0.0), "forged")
    forged = l2.seal(ROOT, topic, "L1", codec.encode(m.Header("L1", 1, 1.0), body))
    assert _ring(("FDC",)).check(ROOT, topic, "FDC", "L1", 1, forged) == "not_for_me"
    # Nor can it pass its own tag off as the FDC's for a heartbeat to L1.
    l2_for_l1 = Keyring(ROLES, {auth.pair("L2", "L1"): b"k" * 32}, ("L2",))
    assert _ring(("L1",)).check(ROOT, HB, "L1", "FDC", 1, l2_for_l1.seal(ROOT, HB, "FDC", _heartbeat(1))) in (
        "not_for_me",
        "bad_tag",
    )


@pytest.mark.parametrize(
    ("topic", "sender", "why"),
    [
        (f"{ROOT}/launcher/L1/order", "L1", "only the FDC orders"),
        (f"{ROOT}/fdc/FDC/command", "FDC", "only an operator commands"),
        (f"{ROOT}/radar/R9/tracks", "R9", "no such radar"),
        (f"{ROOT}/radar/R1/tracks", "R2", "R2 speaking on R1's topic"),
        (f"{ROOT}/launcher/L1/tracks", "L1", "launchers publish no tracks"),
        (f"{ROOT}/radar/R1/tracks/extra", "R1", "not a topic of ours"),
    ],
)
def test_a_sender_off_its_role_is_refused(topic: str, sender: str, why: str) -> None:
    payload = _ring().seal(ROOT, topic, sender, _heartbeat(1, sender))
    assert _ring().check(ROOT, topic, "FDC", sender, 1, payload) == "wrong_sender", why


def test_any_changed_bit_of_what_a_receiver_relies_on_is_refused() -> None:
    payload = _ring(("FDC",)).seal(ROOT, HB, "FDC", _heartbeat(1))
    content, seal = split(payload)
    assert seal is not None
    at = len(payload) - len(seal)
    mine = at + seal.find(auth._entry_prefix("L1"))
    # The content, the epoch, and L1's own tag: the rest is other receivers' business.
    guarded = [
        *range(len(content)),
        at,
        at + 1,
        *range(mine, mine + len(auth._entry_prefix("L1")) + auth.TAG_LEN),
    ]
    refused = set()
    for i in guarded:
        for bit in (0x01, 0x80):
            changed = bytearray(payload)
            changed[i] ^= bit
            try:
                sender = codec.header_of(auth.split(bytes(changed))[0]).sender
            except codec.DecodeError:
                continue  # refused before any check: malformed
            reason = _ring(("L1",)).check(ROOT, HB, "L1", sender, 1, bytes(changed))
            assert reason is not None, (i, bit)
            refused.add(reason)
    assert {"bad_tag", "not_for_me"} <= refused
    # Moved to another topic, the same bytes are refused too.
    assert _ring(("L1",)).check(ROOT, f"{ROOT}/fdc/FDC/state", "L1", "FDC", 1, payload) in (
        "bad_tag",
        "not_for_me",
    )


@given(st.lists(st.integers(1, 300), min_size=1, max_size=200))
def test_the_replay_window_accepts_each_sequence_at_most_once(seqs: list[int]) -> None:
    ring = _ring(("L1",))
    sender = _ring(("FDC",))
    accepted: list[int] = []
    for q in seqs:
        payload = sender.seal(ROOT, HB, "FDC", _heartbeat(q))
        if ring.check(ROOT, HB, "L1", "FDC", q, payload) is None:
            accepted.append(q)
    assert len(accepted) == len(set(accepted))
    top = 0
    for q in accepted:
        # Out of order only within the 64-message window below the newest.
        assert q > top - auth.WINDOW
        top = max(top, q)


def test_a_later_life_resets_the_window_and_an_earlier_one_is_refused() -> None:
    l1 = _ring(("L1",))
    old, new = _ring(("FDC",), epoch=10), _ring(("FDC",), epoch=11)
    assert l1.check(ROOT, HB, "L1", "FDC", 50, old.seal(ROOT, HB, "FDC", _heartbeat(50))) is None
    assert l1.check(ROOT, HB, "L1", "FDC", 1, new.seal(ROOT, HB, "FDC", _heartbeat(1))) is None
    assert l1.check(ROOT, HB, "L1", "FDC", 51, old.seal(ROOT, HB, "FDC", _heartbeat(51))) == "replay"


def test_garbage_seals_are_refused_never_raised() -> None:
    content = _heartbeat(1)
    for seal in (b"", b"\x08", b"\x08\xff", b"\x12\x05abc", b"\x08\x01\x12\xff\xff\xff"):
        payload = content + b"\xf2\x01" + bytes((len(seal),)) + seal
        assert _ring().check(ROOT, HB, "L1", "FDC", 1, payload) in ("bad_seal", "not_for_me", "unsealed")
    assert _ring().check(ROOT, HB, "L1", "FDC", 1, content) == "unsealed"


# ---------------------------------------------------------------- key files


def _scenario() -> object:
    return load_scenario(Path(__file__).parents[3] / "sim_configs" / "single_engagement.yaml")


def test_keys_init_writes_owner_only_files_that_load(tmp_path: Path) -> None:
    s = _scenario()
    out = tmp_path / "keys"
    written = init_keys(s, out)  # type: ignore[arg-type]
    assert os.stat(out).st_mode & 0o777 == 0o700
    assert all(os.stat(p).st_mode & 0o777 == 0o600 for p in written)
    roles = roles_of(s)  # type: ignore[arg-type]
    assert {p.name for p in written} >= {f"{n}.key" for n in roles.nodes} | {"L1.order.key", "manifest.json"}
    keys = load_keys(s, out, ["L1"])  # type: ignore[arg-type]
    assert set(keys.orders) == {"L1"} and len(keys.pairs) == len(roles.peers("L1"))
    assert load_keys(s, out, ["L1"], orders=False).orders == {}  # type: ignore[arg-type]
    manifest = json.loads((out / "manifest.json").read_text())
    # The manifest names fingerprints, never a key.
    fdc_file = json.loads((out / "FDC.key").read_text())
    assert not set(fdc_file["links"].values()) & set(json.dumps(manifest).split('"'))
    with pytest.raises(AuthError, match="not an empty directory"):
        init_keys(s, out)  # type: ignore[arg-type]


def test_loose_permissions_and_foreign_files_are_refused(tmp_path: Path) -> None:
    s = _scenario()
    out = tmp_path / "keys"
    init_keys(s, out)  # type: ignore[arg-type]
    os.chmod(out / "L1.key", 0o644)
    with pytest.raises(
        AuthError, match=r"L1\.key: key file is open to other users \(mode 644\); run `chmod 600"
    ):
        load_keys(s, out, ["L1"])  # type: ignore[arg-type]
    os.chmod(out / "L1.key", 0o600)
    os.chmod(out, 0o755)
    with pytest.raises(AuthError, match="directory is open to other users"):
        load_keys(s, out, ["L1"])  # type: ignore[arg-type]
    os.chmod(out, 0o700)
    (out / "FDC.key").write_text('{"format": "bmc-keys/1", "node": "FDC", "scenario": "other", "links": {}}')
    with pytest.raises(AuthError, match="keys of scenario 'other'"):
        load_keys(s, out, ["FDC"])  # type: ignore[arg-type]
    secret = json.loads((out / "L1.key").read_text())["links"]["FDC"]
    (out / "R1.key").write_text("not json " + secret)
    with pytest.raises(AuthError) as err:
        load_keys(s, out, ["R1"])  # type: ignore[arg-type]
    assert secret not in str(err.value)  # an error never quotes a key file


def test_a_real_time_run_without_keys_refuses_to_start(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(Path(__file__).parents[3] / "sim_configs" / "single_engagement.yaml")
    assert main(["run", path, "--mqtt", "mqtt://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bmc keys init" in err[0] and "--insecure-demo-keys" in err[0], err
    assert main(["node", "L1", "--scenario", path, "--mqtt", "mqtt://127.0.0.1:1"]) == 2
    assert "bmc keys init" in capsys.readouterr().err


def test_virtual_runs_with_a_key_directory_repeat_and_keep_the_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = Path(__file__).parents[3] / "sim_configs" / "single_engagement.yaml"
    assert main(["keys", "init", str(path), "--out", str(tmp_path / "k")]) == 0
    said = capsys.readouterr().out
    assert main(["run", str(path), "--json", str(tmp_path / "a.json"), "--quiet"]) == 0
    for name in ("b.json", "c.json"):
        args = ["run", str(path), "--keys", str(tmp_path / "k"), "--json", str(tmp_path / name), "--quiet"]
        assert main(args) == 0
    a, b, c = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json", "c.json"))
    # The seals never enter the digest; the fire orders' own tags (keyed per launcher) do.
    assert b["digest"] == c["digest"] != a["digest"]
    assert (a["threats"], a["missiles_fired"]) == (b["threats"], b["missiles_fired"])
    assert a["messages"] == b["messages"] and b["messages"]["rejected"] == 0
    for f in (tmp_path / "k").glob("*.key"):
        if f.name.endswith(".order.key"):
            assert f.read_text().strip() not in said
        else:
            assert not any(v in said for v in json.loads(f.read_text())["links"].values())


def test_a_key_in_the_scenario_is_refused_with_the_way_out() -> None:
    import yaml

    from bmc.scenario import ScenarioError, parse_scenario

    data = yaml.safe_load((Path(__file__).parents[3] / "sim_configs" / "single_engagement.yaml").read_text())
    data["launchers"][0]["auth_key_hex"] = "5f" * 16
    with pytest.raises(
        ScenarioError,
        match=r"launchers\[0\]: auth_key_hex: keys no longer live in the scenario.*bmc keys init",
    ):
        parse_scenario(data)


def test_the_in_process_bus_delivers_only_what_each_receiver_accepts() -> None:
    import simpy

    from protocols.bus import InProcessBus
    from protocols.topics import Topics

    env = simpy.Environment()
    bus = InProcessBus(env, Topics(ROOT), keyring=_ring())
    got: list[m.Message] = []
    bus.subscribe("L1", HB).attach(got.append)
    taps: list[bytes] = []
    bus.add_tap(lambda _t, _topic, payload, _msg: taps.append(payload))
    assert not bus.inject(HB, _heartbeat(1))  # unsealed: refused by everyone
    outsider = Keyring(ROLES, derived_keys("guess", ROLES), ROLES.nodes)
    bus.inject(HB, outsider.seal(ROOT, HB, "FDC", _heartbeat(2)))  # a key nobody here holds
    bus.endpoint("FDC").publish(HB, m.FdcHeartbeat("FDC", m.WeaponsControl.FREE))
    env.run()
    assert len(got) == 1 and got[0].header.sender == "FDC"
    assert bus.stats.rejected[(HB, "unsealed")] == 1
    assert bus.stats.rejected[(HB, "bad_tag")] == 2  # L1 and the monitor
    # The taps (report, digest, recording) see the content, never a seal.
    assert len(taps) == 1 and auth.split(taps[0])[1] is None
