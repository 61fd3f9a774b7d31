"""The seams of the architecture, checked on the source: who may import what."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bmc", "sensors", "launchers", "protocols", "hil")
SOURCES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "generated" not in p.parts)

PURE = [
    "sensors/detection.py",
    "sensors/tracker.py",
    "launchers/intercept.py",
    "launchers/launcher.py",
    "bmc/fdc/fusion.py",
    "bmc/fdc/threat.py",
    "bmc/fdc/assign.py",
    "bmc/fdc/doctrine.py",
    "bmc/engine/metrics.py",
    "bmc/engine/rng.py",
    "bmc/engine/stats.py",
    "bmc/engine/report.py",
    "protocols/logrecord.py",
    "protocols/asterix.py",
    "protocols/dis.py",
]
"""Physics and decisions: time and randomness come in as arguments."""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def _uses(path: Path, module: str) -> bool:
    return any(n == module or n.startswith(module + ".") for n in _imports(path))


def test_sources_found() -> None:
    assert len(SOURCES) > 20


def _module_file(name: str) -> Path | None:
    """The project file that importing ``name`` runs (a module or a package's __init__)."""
    base = ROOT / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _import_time_nodes(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements a module runs when imported: not function bodies (their imports wait for
    a call), not ``if TYPE_CHECKING:`` blocks."""
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            yield from _import_time_nodes(stmt.orelse)
            continue
        yield stmt
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list):
                yield from _import_time_nodes([x for x in inner if isinstance(x, ast.stmt)])
        for handler in getattr(stmt, "handlers", []):
            yield from _import_time_nodes(handler.body)


def _closure(path: Path) -> dict[str, Path]:
    """Every module importing ``path`` loads, transitively: name -> the project file that
    imports it first (outside modules are leaves). ``from pkg import mod`` counts ``pkg.mod``;
    importing a submodule runs its packages' __init__ files."""
    seen: dict[str, Path] = {}
    todo = [path]
    done: set[Path] = set()
    while todo:
        f = todo.pop()
        if f in done:
            continue
        done.add(f)
        names: set[str] = set()
        for node in _import_time_nodes(ast.parse(f.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
        for name in names:
            parts = name.split(".")
            for k in range(1, len(parts) + 1):  # the packages on the way, then the module
                sub = ".".join(parts[:k])
                target = _module_file(sub)
                if target is not None:
                    todo.append(target)
                    seen.setdefault(sub, f)
                elif k == len(parts) and _module_file(".".join(parts[:-1])) is None:
                    seen.setdefault(name, f)  # outside the project
    return seen


PURE_BANNED = (
    "simpy", "aiomqtt", "paho", "serial", "mcap", "matplotlib", "distributed", "google.protobuf",
    "protocols.generated", "protocols.codec", "protocols.bus", "protocols.mqtt", "protocols.recording",
    "time", "random", "datetime", "asyncio", "socket", "subprocess",
)  # fmt: skip
"""What no pure module may load, directly or through what it imports."""


@pytest.mark.parametrize("rel", PURE)
def test_pure_modules_load_no_clock_transport_or_global_random(rel: str) -> None:
    loaded = _closure(ROOT / rel)
    used = {
        name: _rel(via)
        for name in loaded
        for b in PURE_BANNED
        if name == b or name.startswith(b + ".")
        for via in [loaded[name]]
    }
    assert not used, f"{rel} loads {used} (module: imported by)"


def test_the_launcher_core_loads_no_clock_nor_transport() -> None:
    # Not pure (it checks tags over the wire encoding), but host-free: SimPy and the Pi run it.
    loaded = _closure(ROOT / "launchers" / "core.py")
    banned = ("simpy", "aiomqtt", "paho", "serial", "mcap", "time", "asyncio", "random", "protocols.bus")
    assert not [n for n in loaded for b in banned if n == b or n.startswith(b + ".")]


def test_the_closure_follows_imports_through_the_project() -> None:
    loaded = _closure(ROOT / "bmc" / "engine" / "metrics.py")
    assert {"bmc.engine.report", "protocols.messages", "protocols.logrecord", "numpy"} <= set(loaded)
    assert loaded["protocols.logrecord"] == ROOT / "bmc" / "engine" / "metrics.py"
    loaded = _closure(ROOT / "protocols" / "recording.py")
    assert "mcap.writer" in loaded and "protocols.codec" in loaded
    assert loaded["protocols.generated.bmc_v1_pb2"].parent == ROOT / "protocols" / "codec"  # steps away
    # A function's import waits for a call: bmc.run's runner is not loaded by `import bmc`.
    assert "bmc.engine.runner" not in _closure(ROOT / "bmc" / "__init__.py")


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("aiomqtt", {f"protocols/mqtt/{m}.py" for m in ("config", "link", "endpoint", "raw")}),
        ("paho", {"protocols/mqtt/link.py"}),
        ("serial", {"hil/serial_link.py"}),
        ("protocols.generated", {f"protocols/codec/{m}.py" for m in ("schema", "reference", "fast", "tags")}),
        ("random", set()),
        # The serial line and the device programs live in wall-clock time (port reopening,
        # device timers); simulated time never reads them.
        (
            "time",
            {
                "bmc/engine/clock.py",
                "protocols/mqtt/link.py",  # a birth's acknowledgement deadline
                "protocols/mqtt/endpoint.py",  # reconnect backoff, birth sequences
                "protocols/mqtt/raw.py",  # a replay's hand-over stamps
                "hil/serial_link.py",
                "hil/devices/pi_launcher.py",
                "hil/devices/sensor_board.py",
                "bmc/testing.py",  # a test broker's start-up deadline
                "bmc/progress.py",  # rate and time left of a long command, in wall time
            },
        ),
        # Certificates are valid for wall-clock dates (`bmc broker-config --tls`); nothing simulated;
        # and ACMI files name their reference time as a UTC date (formatting, nothing simulated).
        ("datetime", {"bmc/broker_acl.py", "bmc/interop/acmi.py"}),
    ],
)
def test_single_owner_imports(module: str, allowed: set[str]) -> None:
    owners = {_rel(p) for p in SOURCES if _uses(p, module)}
    assert owners <= allowed, f"{module} imported outside {allowed or 'nowhere'}: {owners - allowed}"


def test_simpy_stays_in_engine_bus_and_nodes() -> None:
    owners = {_rel(p) for p in SOURCES if _uses(p, "simpy")}
    allowed = {p for p in owners if p.startswith("bmc/engine/") or p.endswith("/node.py")}
    allowed |= {"protocols/bus.py", "protocols/mqtt/bus.py", "sensors/radar.py"}
    assert owners <= allowed, owners - allowed


def test_no_global_numpy_random() -> None:
    offenders = []
    for p in SOURCES:
        text = p.read_text(encoding="utf-8")
        for bad in (
            "np.random.seed",
            "np.random.rand(",
            "np.random.random(",
            "np.random.normal(",
            "np.random.uniform(",
            "np.random.randint(",
            "np.random.choice(",
        ):
            if bad in text:
                offenders.append(f"{_rel(p)}: {bad}")
    assert not offenders


SIMULATION = sorted(
    {
        *(p for p in (ROOT / "sensors").glob("*.py")),
        *(p for p in (ROOT / "launchers").glob("*.py")),
        *(p for p in (ROOT / "bmc" / "fdc").glob("*.py")),
        *(
            ROOT / "bmc" / "engine" / name
            for name in ("world.py", "runner.py", "node.py", "rng.py", "detmath.py")
        ),
        *(ROOT / "bmc" / "scenario" / name for name in ("models.py", "flights.py")),
    }
)
"""Code whose arithmetic decides a virtual run's outcome and digest."""

_PLATFORM_MATH = {
    # BLAS: the CPU's kernel, thread count and alignment choose the summation order.
    "dot", "matmul", "einsum", "inner", "vdot", "tensordot", "linalg",
    # Transcendentals: numpy picks AVX-512 or other kernels per CPU; libm varies too.
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "power", "float_power", "pow",
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "asin", "acos", "atan", "atan2",
    "sinh", "cosh", "tanh", "hypot", "cbrt",
}  # fmt: skip


def _platform_math(source: str, label: str) -> list[str]:
    """Every use of BLAS, a transcendental or ``**``/``@`` in ``source``, as "label:line: what"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        op = getattr(node, "op", None)
        if isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(op, ast.MatMult | ast.Pow):
            found.append(f"{label}:{node.lineno}: {'@' if isinstance(op, ast.MatMult) else '**'}")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in {"np", "numpy", "math"}
            and node.attr in _PLATFORM_MATH
        ):
            found.append(f"{label}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_simulation_arithmetic_is_the_same_on_every_machine() -> None:
    # The digest promise (README, "Determinism"): these modules use IEEE-754 operations
    # that are correctly rounded everywhere, and bmc.engine.detmath for the rest. Python's
    # ``x ** y`` on floats is libm's pow, numpy's is CPU-specific: write products.
    offenders = [hit for p in SIMULATION for hit in _platform_math(p.read_text(encoding="utf-8"), _rel(p))]
    assert not offenders, "platform-dependent arithmetic in simulation code:\n" + "\n".join(offenders)


def test_the_numerics_check_sees_what_it_bans() -> None:
    sample = "import numpy as np\nx = np.exp(a) + b @ c + d ** 3\ny **= 2\nz = math.atan2(1, 2)\n"
    expected = ["s:2: np.exp", "s:2: @", "s:2: **", "s:3: **", "s:4: math.atan2"]
    assert sorted(_platform_math(sample, "s")) == sorted(expected)


ROLES = sorted(
    p
    for pkg in ("sensors", "launchers", "bmc/fdc")
    for p in (ROOT / pkg).glob("*.py")
    if p.name != "__init__.py"
)
ROLE_MAY_LOAD = {
    "bmc",
    "bmc.engine",
    "bmc.engine.node",
    "bmc.engine.detmath",
    "bmc.engine.report",
}
"""The engine base the role packages build on; everything else of ``bmc`` is above them."""


@pytest.mark.parametrize("path", ROLES, ids=_rel)
def test_role_packages_take_their_own_parameters_and_load_only_the_engine_base(path: Path) -> None:
    # Roles (radar, launcher, FDC) know nothing of scenario files, runners, the CLI or tools:
    # the composition root (bmc/engine/runner.py) translates the scenario's models for them.
    loaded = _closure(path)
    above = sorted(
        n
        for n in loaded
        if (n == "bmc" or n.startswith("bmc.")) and n not in ROLE_MAY_LOAD and not n.startswith("bmc.fdc")
    )
    assert not above, f"{_rel(path)} loads {above}"
