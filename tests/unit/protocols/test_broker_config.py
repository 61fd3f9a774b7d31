"""The rig's example mosquitto.conf is the one `bmc broker-config` prints, and it sets TCP_NODELAY."""

from __future__ import annotations

from pathlib import Path

import pytest

from bmc.cli import main

CONF = Path(__file__).resolve().parents[3] / "protocols" / "mosquitto.conf"


def test_shipped_conf_matches_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["broker-config"]) == 0
    printed = capsys.readouterr().out
    assert printed == CONF.read_text(encoding="utf-8"), "run `bmc broker-config > protocols/mosquitto.conf`"


def test_conf_disables_nagle() -> None:
    lines = [ln.split("#")[0].strip() for ln in CONF.read_text(encoding="utf-8").splitlines()]
    assert "set_tcp_nodelay true" in lines


def _settings(text: str) -> list[str]:
    return [ln.split("#")[0].strip() for ln in text.splitlines() if ln.split("#")[0].strip()]


def test_the_acl_configuration_keeps_every_tuning_line_of_the_shipped_one(tmp_path: Path) -> None:
    from bmc.broker_acl import write_broker_config
    from bmc.scenario import load_scenario

    scenario = load_scenario(CONF.parents[1] / "sim_configs" / "single_engagement.yaml")
    write_broker_config(scenario, tmp_path / "rig", port=18883, host="0.0.0.0")
    written = _settings((tmp_path / "rig" / "mosquitto.conf").read_text(encoding="utf-8"))
    shipped = _settings(CONF.read_text(encoding="utf-8"))
    tuning = [s for s in shipped if not s.startswith(("listener", "allow_anonymous"))]
    assert tuning and all(s in written for s in tuning)
    assert "listener 18883 0.0.0.0" in written and "listener 1883 127.0.0.1" not in written
    assert "allow_anonymous false" in written and "allow_anonymous true" not in written
    assert any(s.startswith("acl_file ") for s in written)
    assert any(s.startswith("password_file ") for s in written)


def test_a_variant_of_an_edited_conf_without_its_listener_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from protocols import brokerconf

    monkeypatch.setattr(brokerconf, "shipped", lambda: "allow_anonymous true\n")
    with pytest.raises(brokerconf.BrokerConfError, match=r"no line 'listener 1883 127\.0\.0\.1'"):
        brokerconf.variant(1884)
