"""Loading the administrative units of Yên Bái and Lào Cai, before and after the 2025 reform.

The reference files in ``data/`` (see data/README.md and docs/ocop.md §3) describe three
generations of units, and this module turns them into AdministrativeUnit rows and the
successions between them:

* before 1/7/2025: Tỉnh Yên Bái (code 15) and the old Tỉnh Lào Cai (code 10), their districts
  and their communes. Districts and these communes ended on 30/6/2025, when districts were
  abolished and the communes merged;
* five Yên Bái communes were abolished earlier, on 1/1/2025, and end on 31/12/2024. Which
  neighbour each one joined was never determined, so they get no successor: unknown stays
  unknown, and ``current_unit_for`` answers None for them;
* from 1/7/2025: the new Tỉnh Lào Cai, which took code 15, and its 99 communes. A new commune
  keeps the code of one predecessor, so a code alone never identifies a unit: the natural key
  is (level, code) for a current unit and (level, code, valid_to) for one that ended, the
  same keys the model's unique constraints enforce.

Choices made here, so that nobody has to rediscover them:

* The old Lào Cai file calls its province "Tỉnh Lào Cai (cũ)". "(cũ)" ("old") is an editorial
  marker, not part of the official name, so the unit is stored as "Tỉnh Lào Cai" with
  valid_to 30/6/2025; ``AdministrativeUnit.__str__`` already shows "(until 30/06/2025)", and
  former_names stays empty because the province never bore another name.
* A commune renamed on 1/1/2025 keeps its code and its row: ``name`` is the name it had last,
  ``former_names`` lists earlier names separated by "; " (names only, so that a register
  written with the old name can be matched; the model has no field for the date of a name).
* When a commune's start date is not in the data, valid_from stays empty ("began before our
  records"), as the model documents.
* Codes are text. A code that lost its leading zeros (a CSV opened in a spreadsheet and saved
  again) is padded back to the statistics office's width.

The whole load runs in one transaction and is idempotent: a second run with the same files
creates, updates and deletes nothing.
"""

from __future__ import annotations

import csv
import datetime
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext

from .models import AdministrativeUnit, AdministrativeUnitSuccession
from .text import clean_text

Level = AdministrativeUnit.Level

# Resolution 202/2025/QH15 and 1673/NQ-UBTVQH15: the new province and communes from 1/7/2025.
REFORM_DATE = datetime.date(2025, 7, 1)
LAST_DAY_BEFORE_REFORM = datetime.date(2025, 6, 30)
# The commune rearrangement of 1/1/2025 in Yên Bái (abolished units end the day before).
REARRANGEMENT_2025_DATE = datetime.date(2025, 1, 1)
LAST_DAY_BEFORE_REARRANGEMENT = datetime.date(2024, 12, 31)

YENBAI_DISTRICTS_FILE = "yenbai_districts_pre2025.csv"
YENBAI_COMMUNES_FILE = "yenbai_admin_units_pre2025.csv"
LAOCAI_OLD_FILE = "laocai_old_admin_units_pre2025.csv"
COMMUNES_2025_FILE = "laocai_communes_2025.csv"

_CODE_WIDTH = {Level.PROVINCE: 2, Level.DISTRICT: 3, Level.COMMUNE: 5}
# Fields the loader owns; level, code and valid_to form the natural key and never change in place.
_UNIT_FIELDS = ("name", "unit_type", "name_en", "former_names", "parent_id", "valid_from")
_OLD_MARKER = re.compile(r"\s*\(cũ\)\s*$")
_PROVINCE_TYPES = ("Thành phố", "Tỉnh")  # "Thành phố" first: a centrally-run city is not a "Tỉnh"
_SUCCESSOR_SEPARATORS = re.compile(r"[;|,]")
_PARTIAL_MARKER = re.compile(r"\[\s*partial\s*\]", re.IGNORECASE)
_MERGED_FROM_ITEM = re.compile(r"^\s*(?P<code>\d+)\s*:")

UnitKey = tuple[str, str, datetime.date | None]


class AdminUnitDataError(ValueError):
    """The files cannot be loaded as they are (missing column, unknown district, …).

    Raised before anything is written; the transaction leaves the database untouched."""


@dataclass
class LevelCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


@dataclass(frozen=True)
class Disagreement:
    """A place where the pre-2025 files and the 2025 commune list tell different stories.

    Reported, never fatal: successions follow the pre-2025 files' ``new_2025_07_commune_codes``
    column, and the 2025 list is used to check it.
    """

    # Old codes the pre-2025 files send to `code` but its merged_from does not list.
    MISSING_FROM_MERGED_FROM = "missing_from_merged_from"
    # Old codes `code`'s merged_from lists but the pre-2025 files send elsewhere (or nowhere).
    ONLY_IN_MERGED_FROM = "only_in_merged_from"
    # The pre-2025 files send old communes (`details`) to a code the 2025 list does not have.
    UNKNOWN_SUCCESSOR = "unknown_successor"
    # The pre-2025 files spell the 2025 commune's name differently: details = (theirs, the list's).
    NAME = "name"
    # An old commune in force until 30/6/2025 whose successor the pre-2025 files do not give.
    NO_SUCCESSOR = "no_successor"

    kind: str
    code: str
    details: tuple[str, ...] = ()

    def describe(self) -> str:
        listed = ", ".join(self.details)
        if self.kind == self.MISSING_FROM_MERGED_FROM:
            return gettext("%(code)s: the pre-2025 files merge %(codes)s into it; its merged_from does not.") % {
                "code": self.code,
                "codes": listed,
            }
        if self.kind == self.ONLY_IN_MERGED_FROM:
            return gettext("%(code)s: its merged_from lists %(codes)s; the pre-2025 files send them elsewhere.") % {
                "code": self.code,
                "codes": listed,
            }
        if self.kind == self.UNKNOWN_SUCCESSOR:
            return gettext("%(code)s is not in the 2025 commune list, yet %(codes)s are said to merge into it.") % {
                "code": self.code,
                "codes": listed,
            }
        if self.kind == self.NAME:
            return gettext("%(code)s is written “%(mapping)s” in the pre-2025 files and “%(official)s” in 2025.") % {
                "code": self.code,
                "mapping": self.details[0],
                "official": self.details[1],
            }
        return gettext("%(code)s was in force until 30/06/2025 but its 2025 commune is not given.") % {
            "code": self.code
        }


@dataclass
class LoadResult:
    provinces: LevelCounts = field(default_factory=LevelCounts)
    districts: LevelCounts = field(default_factory=LevelCounts)
    communes: LevelCounts = field(default_factory=LevelCounts)
    successions_created: int = 0
    successions_updated: int = 0
    successions_deleted: int = 0
    successions_unchanged: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)
    # Communes abolished on 1/1/2025: loaded, deliberately without a successor.
    abolished_without_successor: list[str] = field(default_factory=list)

    def counts_for(self, level: str) -> LevelCounts:
        return {Level.PROVINCE: self.provinces, Level.DISTRICT: self.districts, Level.COMMUNE: self.communes}[level]

    @property
    def changed(self) -> bool:
        return (
            self.provinces.changed
            or self.districts.changed
            or self.communes.changed
            or bool(self.successions_created or self.successions_updated or self.successions_deleted)
        )


@dataclass
class _UnitSpec:
    """One unit as the files describe it, before it is matched with a row."""

    level: str
    code: str
    valid_to: datetime.date | None
    name: str
    unit_type: str
    name_en: str = ""
    former_names: str = ""
    valid_from: datetime.date | None = None
    parent: UnitKey | None = None

    @property
    def key(self) -> UnitKey:
        return (self.level, self.code, self.valid_to)


@dataclass
class _Plan:
    """Everything the files say, read and checked before the first write."""

    units: dict[UnitKey, _UnitSpec] = field(default_factory=dict)
    # (predecessor, successor) -> is_partial
    successions: dict[tuple[UnitKey, UnitKey], bool] = field(default_factory=dict)
    disagreements: list[Disagreement] = field(default_factory=list)
    abolished: list[str] = field(default_factory=list)

    def add(self, spec: _UnitSpec, *, source: str) -> None:
        known = self.units.get(spec.key)
        if known is not None and known != spec:
            raise AdminUnitDataError(
                gettext("%(file)s describes %(level)s %(code)s twice, differently.")
                % {"file": source, "level": Level(spec.level).label, "code": spec.code}
            )
        self.units[spec.key] = spec

    def of_level(self, level: str) -> list[_UnitSpec]:
        return [spec for spec in self.units.values() if spec.level == level]


# --- Reading -------------------------------------------------------------------------------


def _rows(path: Path, required: set[str]) -> Iterator[dict[str, str]]:
    """Stream a CSV's rows with every value cleaned (NFC, single spaces, no padding)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = required - set(reader.fieldnames or ())
        if missing:
            raise AdminUnitDataError(
                gettext("%(file)s lacks the columns %(columns)s.")
                % {"file": path.name, "columns": ", ".join(sorted(missing))}
            )
        for row in reader:
            yield {key: clean_text(value) for key, value in row.items() if key is not None}


def normalise_code(code: str, level: str) -> str:
    """The statistics office code as text, with leading zeros restored when digits lost them."""
    code = clean_text(code)
    return code.zfill(_CODE_WIDTH[level]) if code.isdigit() else code


def _province_type(name: str) -> str:
    return next((prefix for prefix in _PROVINCE_TYPES if name.startswith(prefix + " ")), "")


def _yes_no(value: str, *, column: str, source: str) -> bool:
    if value.upper() in {"Y", "N"}:
        return value.upper() == "Y"
    raise AdminUnitDataError(
        gettext("%(file)s: %(column)s must be Y or N, not “%(value)s”.")
        % {"file": source, "column": column, "value": value}
    )


def parse_successor_codes(value: str) -> list[tuple[str, bool]]:
    """Split a ``new_2025_07_commune_codes`` cell into (code, marked partial) pairs.

    The files put one code per cell today; a commune split between several new ones would
    list them separated by ";" or "|" (some exports use ","), each possibly marked "[partial]".
    """
    pairs = []
    for token in _SUCCESSOR_SEPARATORS.split(value or ""):
        marked = bool(_PARTIAL_MARKER.search(token))
        code = _PARTIAL_MARKER.sub("", token).strip()
        if code:
            pairs.append((normalise_code(code, Level.COMMUNE), marked))
    return pairs


def _single_province(path: Path, *, valid_from, valid_to) -> _UnitSpec:
    """The one province a file's rows belong to (a file never mixes provinces)."""
    found = {
        (row["province_code"], row["province_name"])
        for row in _rows(path, {"province_code", "province_name"})
        if row["province_code"]
    }
    if len(found) != 1:
        raise AdminUnitDataError(
            gettext("%(file)s should describe exactly one province, not %(count)d.")
            % {"file": path.name, "count": len(found)}
        )
    code, name = found.pop()
    name = _OLD_MARKER.sub("", name)
    return _UnitSpec(
        level=Level.PROVINCE,
        code=normalise_code(code, Level.PROVINCE),
        valid_to=valid_to,
        valid_from=valid_from,
        name=name,
        unit_type=_province_type(name),
    )


def _read_plan(data_dir: Path) -> _Plan:
    plan = _Plan()
    yenbai = _single_province(data_dir / YENBAI_COMMUNES_FILE, valid_from=None, valid_to=LAST_DAY_BEFORE_REFORM)
    laocai_old = _single_province(data_dir / LAOCAI_OLD_FILE, valid_from=None, valid_to=LAST_DAY_BEFORE_REFORM)
    laocai_new = _single_province(data_dir / COMMUNES_2025_FILE, valid_from=REFORM_DATE, valid_to=None)
    for province in (yenbai, laocai_old, laocai_new):
        plan.add(province, source="provinces")
    # Resolution 202/2025/QH15: both provinces together became the new Lào Cai.
    plan.successions[(yenbai.key, laocai_new.key)] = False
    plan.successions[(laocai_old.key, laocai_new.key)] = False

    # Districts of Yên Bái, from their own file.
    source = YENBAI_DISTRICTS_FILE
    for row in _rows(data_dir / source, {"province_code", "district_code", "district_name", "district_type"}):
        if normalise_code(row["province_code"], Level.PROVINCE) != yenbai.code:
            raise AdminUnitDataError(
                gettext("%(file)s lists a district of province %(code)s.")
                % {"file": source, "code": row["province_code"]}
            )
        plan.add(
            _UnitSpec(
                level=Level.DISTRICT,
                code=normalise_code(row["district_code"], Level.DISTRICT),
                valid_to=LAST_DAY_BEFORE_REFORM,
                name=row["district_name"],
                unit_type=row["district_type"],
                parent=yenbai.key,
            ),
            source=source,
        )
    yenbai_districts = {spec.code for spec in plan.of_level(Level.DISTRICT)}

    # 2025 communes first: the old communes' successors are checked against them.
    communes_2025: dict[str, _UnitSpec] = {}
    merged_from: dict[str, set[str]] = {}
    source = COMMUNES_2025_FILE
    for row in _rows(
        data_dir / source, {"commune_code", "commune_name", "commune_type", "commune_name_en", "merged_from"}
    ):
        spec = _UnitSpec(
            level=Level.COMMUNE,
            code=normalise_code(row["commune_code"], Level.COMMUNE),
            valid_to=None,
            valid_from=REFORM_DATE,
            name=row["commune_name"],
            unit_type=row["commune_type"],
            name_en=row["commune_name_en"],
            parent=laocai_new.key,
        )
        plan.add(spec, source=source)
        communes_2025[spec.code] = spec
        merged_from[spec.code] = {
            normalise_code(match["code"], Level.COMMUNE)
            for item in row["merged_from"].split(";")
            if (match := _MERGED_FROM_ITEM.match(item))
        }

    # Pre-2025 communes: Yên Bái, then old Lào Cai (whose districts come from the same rows).
    mapped_to: dict[str, set[str]] = defaultdict(set)  # new code -> old codes sent there
    names_in_mapping: dict[str, set[str]] = defaultdict(set)
    commune_columns = {
        "district_code",
        "commune_code",
        "commune_name",
        "commune_type",
        "commune_name_en",
        "new_2025_07_commune_codes",
        "new_2025_07_commune_names",
    }
    source = YENBAI_COMMUNES_FILE
    for row in _rows(data_dir / source, commune_columns | {"commune_name_2024", "existed_2024", "existed_2025h1"}):
        district = normalise_code(row["district_code"], Level.DISTRICT)
        if district not in yenbai_districts:
            raise AdminUnitDataError(
                gettext("%(file)s: commune %(commune)s is in district %(district)s, which %(districts)s lacks.")
                % {
                    "file": source,
                    "commune": row["commune_code"],
                    "district": district,
                    "districts": YENBAI_DISTRICTS_FILE,
                }
            )
        existed_2024 = _yes_no(row["existed_2024"], column="existed_2024", source=source)
        existed_2025h1 = _yes_no(row["existed_2025h1"], column="existed_2025h1", source=source)
        former = row["commune_name_2024"]
        spec = _UnitSpec(
            level=Level.COMMUNE,
            code=normalise_code(row["commune_code"], Level.COMMUNE),
            valid_to=LAST_DAY_BEFORE_REFORM if existed_2025h1 else LAST_DAY_BEFORE_REARRANGEMENT,
            # A unit missing from the 2024 list began with the 1/1/2025 rearrangement.
            valid_from=None if existed_2024 else REARRANGEMENT_2025_DATE,
            name=row["commune_name"],
            unit_type=row["commune_type"],
            name_en=row["commune_name_en"],
            former_names=former if former and former != row["commune_name"] else "",
            parent=(Level.DISTRICT, district, LAST_DAY_BEFORE_REFORM),
        )
        plan.add(spec, source=source)
        if not existed_2025h1:
            # Abolished on 1/1/2025: which neighbour it joined is not known, so no successor.
            plan.abolished.append(spec.code)
            continue
        _plan_successions(plan, spec, row, communes_2025, mapped_to, names_in_mapping)

    source = LAOCAI_OLD_FILE
    for row in _rows(data_dir / source, commune_columns | {"district_name", "district_type"}):
        district = _UnitSpec(
            level=Level.DISTRICT,
            code=normalise_code(row["district_code"], Level.DISTRICT),
            valid_to=LAST_DAY_BEFORE_REFORM,
            name=row["district_name"],
            unit_type=row["district_type"],
            parent=laocai_old.key,
        )
        plan.add(district, source=source)
        spec = _UnitSpec(
            level=Level.COMMUNE,
            code=normalise_code(row["commune_code"], Level.COMMUNE),
            valid_to=LAST_DAY_BEFORE_REFORM,
            name=row["commune_name"],
            unit_type=row["commune_type"],
            name_en=row["commune_name_en"],
            parent=district.key,
        )
        plan.add(spec, source=source)
        _plan_successions(plan, spec, row, communes_2025, mapped_to, names_in_mapping)

    _cross_check(plan, communes_2025, merged_from, mapped_to, names_in_mapping)
    return plan


def _plan_successions(plan, old: _UnitSpec, row, communes_2025, mapped_to, names_in_mapping) -> None:
    successors = parse_successor_codes(row["new_2025_07_commune_codes"])
    if not successors:
        plan.disagreements.append(Disagreement(Disagreement.NO_SUCCESSOR, old.code))
        return
    names = [name.strip() for name in _SUCCESSOR_SEPARATORS.split(row["new_2025_07_commune_names"])]
    split = len(successors) > 1
    for index, (code, marked_partial) in enumerate(successors):
        mapped_to[code].add(old.code)
        if len(names) == len(successors) and names[index]:
            names_in_mapping[code].add(names[index])
        new = communes_2025.get(code)
        if new is not None:
            plan.successions[(old.key, new.key)] = split or marked_partial


def _cross_check(plan, communes_2025, merged_from, mapped_to, names_in_mapping) -> None:
    """Compare the pre-2025 files' mapping with the 2025 list's merged_from, commune by commune."""
    for code in sorted(set(mapped_to) - set(communes_2025)):
        plan.disagreements.append(Disagreement(Disagreement.UNKNOWN_SUCCESSOR, code, tuple(sorted(mapped_to[code]))))
    for code, spec in sorted(communes_2025.items()):
        sent_here, listed = mapped_to.get(code, set()), merged_from[code]
        if sent_here - listed:
            plan.disagreements.append(
                Disagreement(Disagreement.MISSING_FROM_MERGED_FROM, code, tuple(sorted(sent_here - listed)))
            )
        if listed - sent_here:
            plan.disagreements.append(
                Disagreement(Disagreement.ONLY_IN_MERGED_FROM, code, tuple(sorted(listed - sent_here)))
            )
        for name in sorted(names_in_mapping.get(code, ())):
            if name != spec.name:
                plan.disagreements.append(Disagreement(Disagreement.NAME, code, (name, spec.name)))


# --- Writing -------------------------------------------------------------------------------


def _key_of(unit: AdministrativeUnit) -> UnitKey:
    return (unit.level, unit.code, unit.valid_to)


def _save_level(level: str, plan: _Plan, pk_by_key: dict[UnitKey, int], counts: LevelCounts) -> None:
    """Create or update the units of one level; parents are saved first so their ids are known."""
    specs = plan.of_level(level)
    existing = {
        _key_of(unit): unit
        for unit in AdministrativeUnit.objects.filter(level=level, code__in={spec.code for spec in specs})
    }
    to_create, to_update = [], []
    for spec in specs:
        values = {
            "name": spec.name,
            "unit_type": spec.unit_type,
            "name_en": spec.name_en,
            "former_names": spec.former_names,
            "parent_id": pk_by_key[spec.parent] if spec.parent else None,
            "valid_from": spec.valid_from,
        }
        unit = existing.get(spec.key)
        if unit is None:
            to_create.append(AdministrativeUnit(level=spec.level, code=spec.code, valid_to=spec.valid_to, **values))
        elif any(getattr(unit, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(unit, name, value)
            to_update.append(unit)
        else:
            counts.unchanged += 1
    created = AdministrativeUnit.objects.bulk_create(to_create)
    AdministrativeUnit.objects.bulk_update(to_update, _UNIT_FIELDS)
    counts.created += len(created)
    counts.updated += len(to_update)
    for unit in [*existing.values(), *created]:
        pk_by_key[_key_of(unit)] = unit.pk


def _save_successions(plan: _Plan, pk_by_key: dict[UnitKey, int], result: LoadResult) -> None:
    """Make the reform successions of the loaded units exactly what the files say.

    A succession effective on another date (one an officer recorded for a commune abolished
    on 1/1/2025, say) is not the files' business and is left alone.
    """
    wanted = {
        (pk_by_key[predecessor], pk_by_key[successor]): is_partial
        for (predecessor, successor), is_partial in plan.successions.items()
    }
    predecessors = {pk_by_key[key] for key in plan.units if key[2] is not None}
    to_update, to_delete = [], []
    for succession in AdministrativeUnitSuccession.objects.filter(predecessor_id__in=predecessors):
        pair = (succession.predecessor_id, succession.successor_id)
        if pair in wanted:
            is_partial = wanted.pop(pair)
            if succession.effective_on != REFORM_DATE or succession.is_partial != is_partial:
                succession.effective_on, succession.is_partial = REFORM_DATE, is_partial
                to_update.append(succession)
            else:
                result.successions_unchanged += 1
        elif succession.effective_on == REFORM_DATE:
            to_delete.append(succession.pk)
    AdministrativeUnitSuccession.objects.bulk_update(to_update, ["effective_on", "is_partial"])
    if to_delete:
        AdministrativeUnitSuccession.objects.filter(pk__in=to_delete).delete()
    created = AdministrativeUnitSuccession.objects.bulk_create(
        AdministrativeUnitSuccession(
            predecessor_id=predecessor, successor_id=successor, effective_on=REFORM_DATE, is_partial=is_partial
        )
        for (predecessor, successor), is_partial in wanted.items()
    )
    result.successions_created += len(created)
    result.successions_updated += len(to_update)
    result.successions_deleted += len(to_delete)


def load_administrative_units(*, data_dir: Path | None = None) -> LoadResult:
    """Load provinces, districts, communes and their successions from ``data_dir``.

    Reads and checks every file before writing, then writes in one transaction. Safe to run
    again: rows are matched on their natural keys and only changed fields are written.
    """
    data_dir = Path(data_dir or settings.OCOP_DATA_DIR)
    plan = _read_plan(data_dir)
    result = LoadResult(disagreements=plan.disagreements, abolished_without_successor=sorted(plan.abolished))
    pk_by_key: dict[UnitKey, int] = {}
    with transaction.atomic():
        for level in (Level.PROVINCE, Level.DISTRICT, Level.COMMUNE):
            _save_level(level, plan, pk_by_key, result.counts_for(level))
        _save_successions(plan, pk_by_key, result)
    return result
