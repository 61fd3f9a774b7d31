"""Scenario files: pydantic models, loading, validation with clear errors.

Every field is documented once, in ``models``, with its unit; ``sim_configs/README.md``
is generated from the models (``python -m bmc.scenario.doc``) and a test keeps the two
in step. Modules:

- ``models``: the file's models and their cross-field rules;
- ``flights``: every air object's path in the local frame (raids expanded);
- ``limits``: what a file may ask for, and the estimate of the work it asks for;
- ``loading``: YAML read within the limits, validated, one clear line per problem;
- ``doc``: the scenario reference generated from the models.
"""

from bmc.scenario.flights import FlightPlan, flight_plans
from bmc.scenario.limits import DEFAULT_LIMITS, Limits, work_problems
from bmc.scenario.loading import format_validation_error, load_scenario, parse_scenario, read_scenario_yaml
from bmc.scenario.models import (
    CHANNELS,
    KIND_DEFAULTS,
    Asset,
    DisEntity,
    DisIn,
    FdcConfig,
    Ident,
    Launcher,
    Link,
    Origin,
    Position,
    Radar,
    Raid,
    Scenario,
    ScenarioError,
    Threat,
    ThreatKind,
    TrackerConfig,
    Waypoint,
    WorldConfig,
)

__all__ = [
    "CHANNELS",
    "DEFAULT_LIMITS",
    "KIND_DEFAULTS",
    "Asset",
    "DisEntity",
    "DisIn",
    "FdcConfig",
    "FlightPlan",
    "Ident",
    "Launcher",
    "Limits",
    "Link",
    "Origin",
    "Position",
    "Radar",
    "Raid",
    "Scenario",
    "ScenarioError",
    "Threat",
    "ThreatKind",
    "TrackerConfig",
    "Waypoint",
    "WorldConfig",
    "flight_plans",
    "format_validation_error",
    "load_scenario",
    "parse_scenario",
    "read_scenario_yaml",
    "work_problems",
]
