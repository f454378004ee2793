"""What the simulator draws from: the complaint mix and the behaviour of every actor.

Every figure is a probability (0–1) or a relative weight; a YAML file may override any of them
(``gridcase simulate --config FILE``)::

    channels: {hotline: 0.5, web: 0.1, app: 0.1, patrol: 0.3}
    urgent_share: 0.1
    behaviour:
      grid_self_handle: 0.6      # a patrol report handled on the spot (小事不出网格)
      street_whistle: 0.8        # a street summons departments for a category that needs it (吹哨)
      dept_late_report: 0.25     # a summoned department reports in late (报到)
      unsatisfied: 0.1           # the resident is unsatisfied at callback: the case reopens

Unknown keys and bad values are refused with the key path and the rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A simulator configuration is invalid; the message names the key and the rule."""


class Lateness(BaseModel):
    """How late a slow actor is, by the escalation rung its lateness reaches.

    ``reminder``: past the deadline (催办); ``supervision``: past the second rung (督办, one working
    day later by default); ``public_notice``: past the third (通报). The rest act in time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    reminder: float = Field(default=0.0, ge=0, le=1)
    supervision: float = Field(default=0.0, ge=0, le=1)
    public_notice: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _sum(self) -> Lateness:
        if self.reminder + self.supervision + self.public_notice > 1.0:
            raise ValueError("reminder + supervision + public_notice must be at most 1")
        return self


class Behaviour(BaseModel):
    """Probabilities of what the actors do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reject: float = Field(default=0.03, ge=0, le=1, description="hotline/web complaint not accepted (不予受理)")
    duplicate: float = Field(default=0.05, ge=0, le=1, description="complaint duplicates a recent case: merged")
    grid_self_handle: float = Field(default=0.6, ge=0, le=1, description="patrol report handled on the spot")
    street_whistle: float = Field(default=0.8, ge=0, le=1, description="street whistles when the category needs it")
    street_whistle_other: float = Field(default=0.08, ge=0, le=1, description="street whistles anyway")
    return_case: float = Field(default=0.07, ge=0, le=1, description="the unit returns a dispatched case (退单)")
    return_redispatch: float = Field(default=0.6, ge=0, le=1, description="hotline re-dispatches a return")
    pause: float = Field(default=0.04, ge=0, le=1, description="handling waits for the resident (paused clocks)")
    extension: float = Field(default=0.05, ge=0, le=1, description="the unit asks for more time (延期)")
    extension_approved: float = Field(default=0.7, ge=0, le=1)
    verify_fail: float = Field(default=0.06, ge=0, le=1, description="the grid's check fails: rework (返工)")
    unsatisfied: float = Field(default=0.1, ge=0, le=1, description="resident unsatisfied at callback: reopened")
    basic_satisfied: float = Field(default=0.2, ge=0, le=1, description="resident rates 基本满意")
    shelve: float = Field(default=0.015, ge=0, le=1, description="case shelved for a while (挂账), then taken up")
    terminate: float = Field(default=0.01, ge=0, le=1, description="case terminated (终止)")
    appeal: float = Field(default=0.03, ge=0, le=1, description="the unit appeals (申诉) to a supervisor")
    appeal_granted: float = Field(default=0.5, ge=0, le=1)
    supervise: float = Field(default=0.02, ge=0, le=1, description="a supervisor orders 督办 by hand")
    assign: float = Field(default=0.3, ge=0, le=1, description="the unit assigns the case to a member (分派)")
    take: float = Field(default=0.2, ge=0, le=1, description="a member takes the case from the unit's inbox (认领)")
    reassign: float = Field(
        default=0.05, ge=0, le=1, description="the unit assigns it, then moves it to another member (改派)"
    )
    accept_late: Lateness = Lateness(reminder=0.08, supervision=0.03, public_notice=0.015)
    dept_late_report: Lateness = Lateness(reminder=0.2, supervision=0.04, public_notice=0.01)
    late_resolve: float = Field(default=0.1, ge=0, le=1, description="an urgent case resolved after its deadline")
    send_back: float = Field(
        default=0.2, ge=0, le=1, description="a reviewer sends a reply back once (退回重办), where replies are reviewed"
    )
    interim_late: float = Field(
        default=0.15, ge=0, le=1, description="a case owing interim replies (阶段性答复) misses one deadline"
    )
    reclassify: float = Field(default=0.03, ge=0, le=1, description="the hotline corrects the category (改类)")
    raise_urgency: float = Field(default=0.03, ge=0, le=1, description="the hotline makes an ordinary case urgent")
    relocate: float = Field(default=0.03, ge=0, le=1, description="the hotline corrects the place (改址)")
    relocate_far: float = Field(
        default=0.5, ge=0, le=1, description="a corrected place is in another street (else another grid of the street)"
    )
    delegate: float = Field(
        default=0.06, ge=0, le=1, description="a street passes its case down to a property company (下派物业)"
    )
    property_return: float = Field(
        default=0.25, ge=0, le=1, description="the property company returns a delegated case to the street"
    )
    whistle_property: float = Field(
        default=0.3, ge=0, le=1, description="a street's whistle also summons a property company of the community"
    )
    volunteers: float = Field(
        default=0.1, ge=0, le=1, description="the grid handling a case calls a volunteer team in (志愿者召集)"
    )
    volunteers_released: float = Field(
        default=0.2, ge=0, le=1, description="the grid ends a volunteer call without the team's report"
    )


DEFAULT_CHANNELS = {"hotline": 0.55, "web": 0.08, "app": 0.07, "patrol": 0.30}
CHANNELS = tuple(DEFAULT_CHANNELS)

# Complaints per hour of the (policy) day, relative: quiet nights, morning and afternoon peaks.
DEFAULT_RHYTHM = (
    0.15,
    0.1,
    0.08,
    0.08,
    0.1,
    0.2,
    0.45,
    0.9,
    1.5,
    1.9,
    1.9,
    1.6,
    1.1,
    1.3,
    1.7,
    1.8,
    1.6,
    1.3,
    1.0,
    0.9,
    0.8,
    0.6,
    0.4,
    0.25,
)


class SimConfig(BaseModel):
    """The whole simulator configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    categories: dict[str, float] = Field(
        default_factory=dict, description="weights by category code; default: the city's own weights"
    )
    urgent_share: float = Field(default=0.08, ge=0, le=1, description="ordinary-category complaints made urgent")
    rhythm: tuple[float, ...] = DEFAULT_RHYTHM
    start_hour: float = Field(default=8.0, ge=0, lt=24, description="policy hour of the day the stream starts at")
    behaviour: Behaviour = Behaviour()
    cover_all_paths: bool = Field(
        default=True, description="open one case down every path and rung first, then draw the rest at random"
    )

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(CHANNELS))
        if unknown:
            raise ValueError(f"unknown channel(s) {', '.join(unknown)}; expected {', '.join(CHANNELS)}")
        return _weights(v)

    @field_validator("categories")
    @classmethod
    def _categories(cls, v: dict[str, float]) -> dict[str, float]:
        return _weights(v) if v else v

    @field_validator("rhythm")
    @classmethod
    def _rhythm(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) != 24 or any(x < 0 for x in v) or not any(x > 0 for x in v):
            raise ValueError("rhythm needs 24 non-negative hourly weights, at least one above 0")
        return v


def _weights(v: dict[str, float]) -> dict[str, float]:
    if any(w < 0 for w in v.values()) or not any(w > 0 for w in v.values()):
        raise ValueError("weights must be non-negative with at least one above 0")
    return v


def config_from_mapping(data: object, source: str = "<config>") -> SimConfig:
    """Validate a parsed configuration; raises :class:`ConfigError` naming ``source`` and the key."""
    if data is None:
        return SimConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a simulator configuration is a mapping, got a {type(data).__name__}")
    try:
        return SimConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            lines.append(f"{path}: {msg}" if path else msg)
        raise ConfigError(f"{source}: " + "; ".join(lines)) from None


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> SimConfig:
    """The configuration from ``path`` (YAML; ``None``: the defaults) with ``overrides`` applied on top."""
    import yaml

    data: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read the file: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{source}: a simulator configuration is a mapping, got a {type(loaded).__name__}")
        data = dict(loaded or {})
    for key, value in (overrides or {}).items():
        if "." in key:
            head, tail = key.split(".", 1)
            data.setdefault(head, {})[tail] = value
        else:
            data[key] = value
    return config_from_mapping(data, source)
