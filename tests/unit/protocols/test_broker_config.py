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
