"""Configuration: YAML files validated on load into frozen, strict pydantic models."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from core.contract import FEEDS, PARTNER_EVENT_TYPES, SOCIAL_CARE_EVENT_TYPES
from core.errors import ConfigError, key_path

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"

PositiveInt = Annotated[int, Field(gt=0)]


def _as_tuple(value: object) -> object:
    """YAML gives lists; the frozen models hold tuples (a list of lists becomes a tuple of tuples)."""
    if isinstance(value, list):
        return tuple(_as_tuple(v) for v in value)
    return value


# Marks a tuple field that may be given as a YAML list.
FromList = BeforeValidator(_as_tuple)
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Hub(_Frozen):
    name: Annotated[str, Field(min_length=1)]
    capacity: PositiveInt


# A council's DfE local-authority number: 3 digits, as text (quote it in YAML: code: "330").
CouncilCode = Annotated[str, Field(pattern=r"^[0-9]{3}$")]


class CouncilConfig(_Frozen):
    name: str = "Simulated City Council"
    # Optional for one council; required for each council of a region (the extract's `council` column).
    code: CouncilCode | None = None
    hubs: Annotated[tuple[Hub, ...], Field(min_length=1), FromList]

    @model_validator(mode="after")
    def _unique_hub_names(self) -> CouncilConfig:
        names = [h.name for h in self.hubs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"hub names must be unique; repeated: {', '.join(dupes)}")
        return self

    # One council of a region (`Config.for_council`) keeps the region's numbering of hub names for the `hub_code`
    # model input, so that its features are the region model's inputs; never read from YAML.
    _input_hubs: tuple[str, ...] | None = PrivateAttr(default=None)

    @property
    def hub_names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.hubs)

    @property
    def input_hub_names(self) -> tuple[str, ...]:
        """The hub names the `hub_code` input numbers: the council's own, or its region's (`Config.for_council`)."""
        return self._input_hubs if self._input_hubs is not None else self.hub_names

    def capacity(self, hub: str) -> int:
        return {h.name: h.capacity for h in self.hubs}[hub]


class FeaturesConfig(_Frozen):
    version: str = "1"
    windows_months: Annotated[tuple[PositiveInt, ...], Field(min_length=1), FromList] = (3, 6, 12, 24)
    every_months: PositiveInt = 3
    history_years: PositiveInt = 5


class OutcomeConfig(_Frozen):
    event_type: Literal["looked_after", "cp_plan"] = "looked_after"
    horizon_months: PositiveInt = 12


class PromotionConfig(_Frozen):
    pr_auc_tolerance: Annotated[float, Field(ge=0.0)] = 0.01
    max_calibration_error: Annotated[float, Field(gt=0.0)] = 0.02
    # Predicted / observed among the listed children: refused when the whole 95% interval lies outside.
    calibration_band: Annotated[tuple[Annotated[float, Field(gt=0.0)], Annotated[float, Field(gt=0.0)]],
                                FromList] = (0.67, 1.5)

    @model_validator(mode="after")
    def _band_ordered(self) -> PromotionConfig:
        if not self.calibration_band[0] < 1.0 < self.calibration_band[1]:
            raise ValueError("calibration_band must be [low, high] with low < 1 < high")
        return self


class ModelConfig(_Frozen):
    seed: int = 42
    train_dates: PositiveInt = 8
    validation_dates: PositiveInt = 4
    test_dates: PositiveInt = 4
    calibration: Literal["isotonic", "platt"] = "isotonic"
    num_boost_round: PositiveInt = 2000
    early_stopping_rounds: PositiveInt = 100
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    num_leaves: PositiveInt = 15
    min_data_in_leaf: PositiveInt = 1000
    feature_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 0.3
    bagging_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    lambda_l2: Annotated[float, Field(ge=0.0)] = 30.0
    tune_trials: PositiveInt = 20
    tune_timeout_seconds: PositiveInt = 900
    registered_name: str = "upstream-risk"
    # More (or more recent) adverse events never lower a child's risk (LightGBM monotone_constraints).
    monotone: bool = True
    # The `*_ever` counts (a permanent mark); off by default (data minimisation, docs/training.md).
    ever_features: bool = False
    # Family-clustered bootstrap replicates for every interval in training.
    bootstrap_replicates: PositiveInt = 200
    # After the test evaluation, refit on every labelled date (train..test) and serve that version.
    deployment_refit: bool = True
    refit_calibration_share: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    # The first date the extract's records cover (YYYY-MM-DD); default: the earliest point event.
    records_start: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    promotion: PromotionConfig = PromotionConfig()


class FairnessConfig(_Frozen):
    groups: Annotated[tuple[str, ...], FromList] = (
        "ethnic_group", "ethnicity", "sex", "disability", "age_band", "deprivation_quintile", "hub",
        "previously_known",
    )
    intersections: Annotated[tuple[tuple[str, str], ...], FromList] = (("ethnic_group", "sex"), ("age_band", "hub"))
    reference_groups: dict[str, str] = Field(default_factory=dict)
    band: Annotated[tuple[Annotated[float, Field(gt=0.0)], Annotated[float, Field(gt=0.0)]], FromList] = (0.8, 1.25)
    bootstrap_replicates: PositiveInt = 200
    small_cell_threshold: PositiveInt = 10
    top_share: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.02
    # The pre-registered primary comparisons that decide the verdict (recall and calibration at the list, for
    # these attributes), with Holm's family-wise error control at this level; the rest is exploratory.
    primary_attributes: Annotated[tuple[str, ...], FromList] = ("ethnic_group", "sex", "disability", "age_band")
    family_wise_alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05

    @model_validator(mode="after")
    def _band_ordered(self) -> FairnessConfig:
        if not self.band[0] < 1.0 < self.band[1]:
            raise ValueError("band must be [low, high] with low < 1 < high")
        return self


class RiskBand(_Frozen):
    name: str
    min: Probability


class ServingConfig(_Frozen):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(gt=0, lt=65536)] = 8000
    database_url: str = "sqlite:///mlruns/upstream.db"
    # The latest `upstream score` output that the service reads.
    scores_dir: str = "demo_output/scores"
    list_probability_threshold: Probability = 0.5
    risk_bands: Annotated[tuple[RiskBand, ...], FromList] = (
        RiskBand(name="very high", min=0.3),
        RiskBand(name="high", min=0.1),
        RiskBand(name="raised", min=0.03),
        RiskBand(name="low", min=0.0),
    )
    max_payload_bytes: PositiveInt = 1_000_000
    reload_interval_seconds: PositiveInt = 30

    def band_for(self, probability: float) -> str:
        """The name of the highest band whose lower bound the probability reaches."""
        for band in sorted(self.risk_bands, key=lambda b: b.min, reverse=True):
            if probability >= band.min:
                return band.name
        return self.risk_bands[-1].name


class VisibilityBias(_Frozen):
    """Partner agencies see one ethnic group's families `factor` times as often (a test of the fairness audit)."""

    group: Literal["White", "Mixed", "Asian", "Black", "Other", "Unknown"]
    factor: Annotated[float, Field(gt=0.0, le=1.0)] = 0.3
class SecurityConfig(_Frozen):
    """The web service's defences: token lifetime, throttling of refused requests, sign-in lockout, body timeout."""

    # An API token stops working this many days after `users add` / `users rotate` (then 401 saying so).
    token_days: PositiveInt = 90
    # A client with this many refused requests (401, 403, 413, ...) inside the window is answered 429 for
    # `throttle_seconds` (in memory, per client address: behind a proxy, see docs/serving.md).
    failure_limit: PositiveInt = 20
    failure_window_seconds: PositiveInt = 60
    throttle_seconds: PositiveInt = 60
    # This many failed sign-ins from one client inside the window locks sign-in there for `signin_lockout_minutes`.
    signin_lockout_attempts: PositiveInt = 5
    signin_lockout_minutes: PositiveInt = 15
    # A request body must arrive whole within this many seconds (slow senders are answered 408).
    body_timeout_seconds: PositiveInt = 10
    # Interactive API docs (/docs): off unless asked for; when on, only for signed-in users, assets served locally.
    api_docs: bool = False


class SimulationConfig(_Frozen):
    children: PositiveInt = 56_000
    seed: int = 2017
    start: Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = "2010-04"
    end: Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = "2017-03"
    replicates: Annotated[int, Field(ge=2)] = 32   # oracle Monte-Carlo replicates per as-of date
    truth_dates: PositiveInt = 9                    # quarterly as-of dates with ground truth (latest labelled back)
    visibility_bias: VisibilityBias | None = None   # off: ethnicity affects nothing in the simulated council


class MonitoringConfig(_Frozen):
    """`upstream monitor`: where its latest report lives and the thresholds of its alerts (docs/monitoring.md
    says why each default is what it is)."""

    report_dir: str = "demo_output/monitor"     # the latest `upstream monitor --out` the governance page reads
    experiment: str = "upstream-monitoring"     # MLflow experiment of the monitoring runs
    reference_months: PositiveInt = 24          # months of feed counts stored with a model at training
    feed_months: PositiveInt = 12               # recent months of the extract checked
    feed_z: Annotated[float, Field(gt=0.0)] = 4.0            # range: expected +- z * sd (Poisson + reference spread)
    feed_min_change: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.3   # ... and at least this relative change
    feed_min_expected: Annotated[float, Field(gt=0.0)] = 5.0  # feeds expecting fewer a month are not tested
    feed_min_months: PositiveInt = 2            # out-of-range months before a feed alert
    feed_pool_months: PositiveInt = 3           # ... or the latest 3 (not late) months summed out of range
    late_months: PositiveInt = 3                # the latest months where late-arriving records are expected
    late_completeness: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.85  # all feeds below this share: late data
    psi_bins: Annotated[int, Field(ge=2)] = 10
    psi_watch: Annotated[float, Field(gt=0.0)] = 0.1
    psi_alert: Annotated[float, Field(gt=0.0)] = 0.25
    # An input whose rows outside its commonest reference bin (>= 20 expected) fall to a fifth: it fell silent
    vanish_min_expected: Annotated[float, Field(gt=0.0)] = 20.0
    vanish_ratio: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    top_movers: PositiveInt = 10
    no_history_change: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05  # absolute change in a hub's share
    bootstrap_replicates: PositiveInt = 200
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95

    @model_validator(mode="after")
    def _psi_ordered(self) -> MonitoringConfig:
        if not self.psi_watch < self.psi_alert:
            raise ValueError("psi_watch must be below psi_alert")
        return self

# Share of each partner agency's events that reach the council's extract with a child or family key: the reasoning
# for each default is in docs/simulator.md ("Linkage"). The simulator applies it when recording, never to the
# hidden state, so the oracle's p_true does not depend on it.
DEFAULT_LINKAGE: dict[str, float] = {
    "domestic_abuse_notification": 0.85, "missing_episode": 0.80, "youth_offence": 0.75,
    "school_persistent_absence": 0.95, "school_exclusion": 0.95,
    "ae_attendance": 0.15, "health_visitor_concern": 0.50,
    "adult_mental_health": 0.30, "adult_substance_misuse": 0.35, "homelessness": 0.70,
}
DEFAULT_SCENARIOS: dict[str, tuple[str, ...]] = {
    "social_care_only": (),
    "police": ("police",),
    "police_schools": ("police", "schools"),
    "police_schools_health": ("police", "schools", "health"),
    "full": ("police", "schools", "health", "adult_services_housing"),
}


class DataSharingConfig(_Frozen):
    """Partner feeds: how well each is linked (simulated councils) and which ones each scenario's agreements give."""

    linkage: dict[str, Probability] = Field(default_factory=lambda: dict(DEFAULT_LINKAGE))
    scenarios: dict[str, Annotated[tuple[str, ...], FromList]] = Field(
        default_factory=lambda: dict(DEFAULT_SCENARIOS))

    @model_validator(mode="after")
    def _known_names(self) -> DataSharingConfig:
        unknown = sorted(set(self.linkage) - set(PARTNER_EVENT_TYPES))
        if unknown:
            raise ValueError(f"linkage: not partner event types: {', '.join(unknown)}")
        missing = sorted(set(PARTNER_EVENT_TYPES) - set(self.linkage))
        if missing:
            raise ValueError(f"linkage: no rate for {', '.join(missing)}")
        for name, feeds in self.scenarios.items():
            bad = sorted(set(feeds) - set(FEEDS))
            if bad:
                raise ValueError(f"scenario '{name}': unknown feeds {', '.join(bad)} (known: {', '.join(FEEDS)})")
        return self

    def event_types(self, scenario: str) -> tuple[str, ...]:
        """Every event type a scenario's extract holds: social care's own records plus its partner feeds."""
        if scenario not in self.scenarios:
            raise ConfigError(f"unknown scenario '{scenario}' (configured: {', '.join(self.scenarios)})")
        partner = {t for feed in self.scenarios[scenario] for t in FEEDS[feed]}
        return SOCIAL_CARE_EVENT_TYPES + tuple(t for t in PARTNER_EVENT_TYPES if t in partner)


class RegionCouncil(CouncilConfig):
    """One council of a region (config `councils:`): its code is required."""

    code: CouncilCode


def _region_view(councils: tuple[RegionCouncil, ...]) -> CouncilConfig:
    """The region as one `council` for the code that only knows hubs by name (the `hub_code` model input, the web
    pages): every distinct hub name once, in order; a name two councils share holds their capacities summed.
    Lists, capacities and the operating point use (council, hub) pairs instead (`Config.list_capacities`)."""
    caps: dict[str, int] = {}
    for council in councils:
        for hub in council.hubs:
            caps[hub.name] = caps.get(hub.name, 0) + hub.capacity
    names = ", ".join(f"{c.name} ({c.code})" for c in councils)
    return CouncilConfig(name=f"Region of {len(councils)} councils: {names}",
                         hubs=tuple(Hub(name=n, capacity=c) for n, c in caps.items()))


class Config(_Frozen):
    # One council (`council:`) or a region (`councils:`, each with a code and its own hubs), never both. With
    # `councils`, `council` is the region view (`_region_view`), filled in on load.
    council: CouncilConfig | None = None
    councils: Annotated[tuple[RegionCouncil, ...], Field(min_length=1), FromList] | None = None
    features: FeaturesConfig = FeaturesConfig()
    outcome: OutcomeConfig = OutcomeConfig()
    model: ModelConfig = ModelConfig()
    fairness: FairnessConfig = FairnessConfig()
    serving: ServingConfig = ServingConfig()
    security: SecurityConfig = SecurityConfig()
    simulation: SimulationConfig = SimulationConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    data_sharing: DataSharingConfig = DataSharingConfig()

    @model_validator(mode="after")
    def _one_council_or_a_region(self) -> Config:
        if self.councils is None:
            if self.council is None:
                raise ValueError("give the council (council: {name, hubs}) or a region (councils: [{code, name, "
                                 "hubs}, ...])")
            return self
        codes = [c.code for c in self.councils]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"councils: council codes must be unique; repeated: {', '.join(dupes)}")
        view = _region_view(self.councils)
        if self.council is not None and self.council != view:  # a dump of a region config holds its view
            raise ValueError("give either council (one council) or councils (a region), not both")
        object.__setattr__(self, "council", view)  # frozen: set once, on load
        return self

    @property
    def is_region(self) -> bool:
        """Several councils in one extract (config `councils:`)."""
        return self.councils is not None

    @property
    def region(self) -> tuple[CouncilConfig, ...]:
        """Every council: the region's, or the one council."""
        return tuple(self.councils) if self.councils is not None else (self.council,)

    @property
    def contract_hubs(self) -> tuple[str, ...] | dict[str, tuple[str, ...]]:
        """The `hub` code list validation checks: one council's hub names, or {council code: hub names} when the
        config names council codes (a region, or one council with `code`)."""
        if self.councils is None and self.council.code is None:
            return self.council.hub_names
        return {c.code: c.hub_names for c in self.region}

    def list_capacities(self) -> dict[str, int]:
        """Families each hub lists, keyed as the operating point keys hubs (`training.operating_point.hub_key`):
        by hub name for one council, by "code/hub" for a region."""
        if self.councils is None:
            return {h.name: h.capacity for h in self.council.hubs}
        return {f"{c.code}/{h.name}": h.capacity for c in self.councils for h in c.hubs}

    def for_council(self, code: str) -> Config:
        """This config as the one council `code` of the region (its hubs and capacities; everything else as is, and
        the region's numbering of the `hub_code` input, so features built with it are the region model's)."""
        found = [c for c in self.region if c.code == code]
        if not found:
            raise ConfigError(f"council {code} is not in the config (councils: "
                              f"{', '.join(str(c.code) for c in self.region)})")
        council = CouncilConfig(name=found[0].name, code=code, hubs=found[0].hubs)
        council._input_hubs = self.council.input_hub_names  # the region's `hub_code` numbering
        return self.model_copy(update={"council": council, "councils": None})

    def config_hash(self) -> str:
        """A short stable hash of the resolved config, recorded with every model."""
        data = self.model_dump(mode="json")
        if self.councils is None:  # one council: hashed as before regions existed (the same config, the same hash)
            data.pop("councils")
            if self.council.code is None:
                data["council"].pop("code")
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _message(err: dict) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required value missing"
    if kind == "greater_than" and ctx.get("gt") == 0:
        return "must be a positive integer" if isinstance(err.get("input"), int) else "must be positive"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be an integer (got {err.get('input')!r})"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number (got {err.get('input')!r})"
    if kind in ("string_type",):
        return f"must be a string (got {err.get('input')!r})"
    return err["msg"][0].lower() + err["msg"][1:]


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        lines.append(f"  {key_path(loc, empty='(top level)')}: {_message(err)}")
    return "\n".join(lines)


def parse_config(data: object, *, source: str = "<config>") -> Config:
    """Validate a mapping (as loaded from YAML) into a Config, or raise ConfigError naming each key path."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the configuration must be a YAML mapping, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from exc


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate a YAML config; the default is configs/default.yaml in the checkout.

    Parameters
    ----------
    path : str or Path, optional
        The YAML file.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        Naming the key path of the first problem.
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(data, source=str(path))
