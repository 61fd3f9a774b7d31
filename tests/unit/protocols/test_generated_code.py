"""The checked-in protobuf code is exactly what protoc makes of the schema, and the
plain enums in :mod:`protocols.messages` mirror the schema's enums."""

from __future__ import annotations

import enum
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from protocols import messages as m
from protocols.generated import bmc_v1_pb2

pb: Any = bmc_v1_pb2

REPO = Path(__file__).resolve().parents[3]
GENERATED = REPO / "protocols" / "generated"


def test_repo_root_found() -> None:
    assert (REPO / "protocols" / "proto" / "bmc_v1.proto").is_file()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("protoc")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            "protocols/proto",
            f"--python_out={out}",
            f"--pyi_out={out}",
            "protocols/proto/bmc_v1.proto",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("name", ["bmc_v1_pb2.py", "bmc_v1_pb2.pyi"])
def test_generated_code_is_reproducible(regenerated: Path, name: str) -> None:
    fresh = (regenerated / name).read_bytes()
    assert fresh, f"protoc produced an empty {name}"
    assert fresh == (GENERATED / name).read_bytes(), (
        f"protocols/generated/{name} is stale: regenerate it from protocols/proto/bmc_v1.proto"
    )


def _snake_upper(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


# Every IntEnum in protocols.messages, found by introspection so a new one cannot be forgotten.
PLAIN_ENUMS: list[type[enum.IntEnum]] = [
    obj
    for obj in vars(m).values()
    if isinstance(obj, type) and issubclass(obj, enum.IntEnum) and obj.__module__ == m.__name__
]


def test_all_plain_enums_found() -> None:
    names = {e.__name__ for e in PLAIN_ENUMS}
    assert names == {
        "TrackStatus",
        "Identity",
        "Classification",
        "ObjectStatus",
        "EngagementState",
        "LauncherState",
        "DetonationOutcome",
        "WeaponsControl",
        "NodeStatus",
        "TrackEngagement",
    }


def test_schema_has_no_enum_without_a_plain_twin() -> None:
    assert set(pb.DESCRIPTOR.enum_types_by_name) == {e.__name__ for e in PLAIN_ENUMS}


@pytest.mark.parametrize("plain", PLAIN_ENUMS, ids=lambda e: e.__name__)
def test_enum_matches_schema(plain: type[enum.IntEnum]) -> None:
    desc = pb.DESCRIPTOR.enum_types_by_name[plain.__name__]
    prefix = _snake_upper(plain.__name__) + "_"
    wire = {v.name: v.number for v in desc.values}
    expected = {prefix + "UNSPECIFIED": 0} | {prefix + member.name: member.value for member in plain}
    assert wire == expected
    for member in plain:
        # e.g. m.TrackStatus.CONFIRMED == pb.TRACK_STATUS_CONFIRMED
        assert member == getattr(pb, prefix + member.name)


def test_enum_spot_checks() -> None:
    assert m.TrackStatus.CONFIRMED == pb.TRACK_STATUS_CONFIRMED
    assert m.Identity.FRIEND == pb.IDENTITY_FRIEND
    assert m.Classification.CRUISE_MISSILE == pb.CLASSIFICATION_CRUISE_MISSILE
    assert m.DetonationOutcome.ASSET_HIT == pb.DETONATION_OUTCOME_ASSET_HIT
    assert m.WeaponsControl.HOLD == pb.WEAPONS_CONTROL_HOLD


def test_schema_version_matches_package() -> None:
    assert pb.DESCRIPTOR.package == f"bmc.v{m.SCHEMA_VERSION}"
