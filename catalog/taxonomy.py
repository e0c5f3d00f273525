"""The OCOP classification: loading both schemes and recognising a label people wrote.

Two schemes are in use. QĐ 1048/2019 is the old one, and registers, statistics and
packaging still use its labels. QĐ 148/2023 is the current one: its structure is from 148
and its wording from QĐ 26/2026 Phụ lục I; docs/ocop.md §1.2 explains why.
``data/ocop_product_taxonomy.csv`` holds both trees. ``data/ocop_taxonomy_1048_to_148.csv``
links each old leaf to the current leaf it became and gives one sentence of justification
for each link. Products are classified under the current scheme only, so a label written
the old way must land on its current leaf: ``find_category`` does that.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext

from cooperatives.text import clean_text, match_key

from .models import OcopCategory

Scheme = OcopCategory.Scheme

TAXONOMY_FILE = "ocop_product_taxonomy.csv"
MAPPING_FILE = "ocop_taxonomy_1048_to_148.csv"

# Wordings seen in real files that differ from both schemes' official wording, each mapped
# to the seq of the QĐ 148 leaf it means. Keys are compared through match_key, so accents,
# case and punctuation do not matter here.
CATEGORY_ALIASES: dict[str, int] = {
    # data/yenbai_ocop_products.csv (the researcher's subgroup for 8 products) shortens
    # 148 leaf 8, whose official wording is "Chế biến từ thịt, trứng, sữa, thủy sản, các sản
    # phẩm từ mật ong, mật khác và nông sản thực phẩm khác".
    "Chế biến từ thịt, trứng, sữa, thủy sản, mật ong, mật khác và nông sản thực phẩm khác": 8,
}

_FIELDS = ("group_code", "group", "subgroup", "name", "managing_ministry", "source")


class TaxonomyDataError(ValueError):
    """The taxonomy or mapping file cannot be loaded as it is; nothing was written."""


@dataclass
class SchemeCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class TaxonomyLoadResult:
    schemes: dict[str, SchemeCounts] = field(default_factory=dict)
    linked: int = 0  # old-scheme leaves that have a current counterpart
    links_changed: int = 0  # of which this run set or changed the link
    # Old-scheme leaves the mapping deliberately leaves without a counterpart.
    without_counterpart: list[OcopCategory] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.links_changed) or any(c.created or c.updated for c in self.schemes.values())


def _rows(path: Path, required: set[str]) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = required - set(reader.fieldnames or ())
        if missing:
            raise TaxonomyDataError(
                gettext("%(file)s lacks the columns %(columns)s.")
                % {"file": path.name, "columns": ", ".join(sorted(missing))}
            )
        for row in reader:
            yield {key: clean_text(value) for key, value in row.items() if key is not None}


def scheme_for(label: str) -> str:
    """The scheme a row belongs to. The file labels the current scheme at length
    ("QD148_2023 (structure) / QD26_2026 Phụ lục I (wording)"); its first word is the scheme."""
    head = label.split(" ", 1)[0]
    if head in Scheme.values:
        return head
    raise TaxonomyDataError(gettext("Unknown OCOP scheme “%(label)s”.") % {"label": label})


def _int(value: str, *, what: str) -> int:
    try:
        return int(value)
    except ValueError as error:
        message = gettext("%(what)s must be a number, not “%(value)s”.") % {"what": what, "value": value}
        raise TaxonomyDataError(message) from error


def _read_taxonomy(path: Path) -> dict[tuple[str, int], dict[str, str]]:
    leaves: dict[tuple[str, int], dict[str, str]] = {}
    required = {
        "scheme",
        "seq",
        "nganh_code",
        "nganh",
        "nhom",
        "phan_nhom_or_bo_san_pham",
        "managing_ministry",
        "source",
    }
    for row in _rows(path, required):
        key = (scheme_for(row["scheme"]), _int(row["seq"], what="seq"))
        if key in leaves:
            raise TaxonomyDataError(gettext("%(file)s lists leaf %(seq)d twice.") % {"file": path.name, "seq": key[1]})
        leaves[key] = {
            "group_code": row["nganh_code"],
            "group": row["nganh"],
            "subgroup": row["nhom"],
            "name": row["phan_nhom_or_bo_san_pham"],
            "managing_ministry": row["managing_ministry"],
            "source": row["source"],
        }
    return leaves


def _read_mapping(path: Path, old_seqs: set[int], new_seqs: set[int]) -> dict[int, int | None]:
    """seq_1048 -> seq_148 (None: no counterpart). Every old leaf must be mapped exactly once,
    so that a new old-scheme leaf cannot slip in unlinked."""
    mapping: dict[int, int | None] = {}
    for row in _rows(path, {"seq_1048", "seq_148", "basis"}):
        old = _int(row["seq_1048"], what="seq_1048")
        new = _int(row["seq_148"], what="seq_148") if row["seq_148"] else None
        if old in mapping or old not in old_seqs or (new is not None and new not in new_seqs) or not row["basis"]:
            raise TaxonomyDataError(
                gettext("%(file)s: the row for old leaf %(seq)d is repeated, unknown or without a basis.")
                % {"file": path.name, "seq": old}
            )
        mapping[old] = new
    unmapped = old_seqs - set(mapping)
    if unmapped:
        raise TaxonomyDataError(
            gettext("%(file)s does not say what became of old leaves %(seqs)s.")
            % {"file": path.name, "seqs": ", ".join(map(str, sorted(unmapped)))}
        )
    return mapping


def load_ocop_taxonomy(*, data_dir: Path | None = None) -> TaxonomyLoadResult:
    """Load both schemes into OcopCategory and link the old leaves to the current ones.

    Idempotent: leaves are matched on (scheme, seq) and only changed fields are written.
    """
    data_dir = Path(data_dir or settings.OCOP_DATA_DIR)
    leaves = _read_taxonomy(data_dir / TAXONOMY_FILE)
    mapping = _read_mapping(
        data_dir / MAPPING_FILE,
        old_seqs={seq for scheme, seq in leaves if scheme == Scheme.QD1048_2019},
        new_seqs={seq for scheme, seq in leaves if scheme == Scheme.QD148_2023},
    )
    result = TaxonomyLoadResult(schemes={scheme: SchemeCounts() for scheme in Scheme.values})
    with transaction.atomic():
        existing = {(c.scheme, c.seq): c for c in OcopCategory.objects.filter(scheme__in=Scheme.values)}
        to_create, to_update = [], []
        for (scheme, seq), values in leaves.items():
            counts = result.schemes[scheme]
            category = existing.get((scheme, seq))
            if category is None:
                to_create.append(OcopCategory(scheme=scheme, seq=seq, **values))
                counts.created += 1
            elif any(getattr(category, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(category, name, value)
                to_update.append(category)
                counts.updated += 1
            else:
                counts.unchanged += 1
        OcopCategory.objects.bulk_update(to_update, _FIELDS)
        for category in OcopCategory.objects.bulk_create(to_create):
            existing[(category.scheme, category.seq)] = category

        relinked = []
        for old_seq, new_seq in sorted(mapping.items()):
            old = existing[(Scheme.QD1048_2019, old_seq)]
            current_id = existing[(Scheme.QD148_2023, new_seq)].pk if new_seq is not None else None
            if current_id is None:
                result.without_counterpart.append(old)
            else:
                result.linked += 1
            if old.current_id != current_id:
                old.current_id = current_id
                relinked.append(old)
        OcopCategory.objects.bulk_update(relinked, ["current"])
        result.links_changed = len(relinked)
    return result


class CategoryMatcher:
    """Recognises subgroup labels against the categories read once (one query for any
    number of labels: build one matcher for a whole register import)."""

    def __init__(self, categories: Iterable[OcopCategory] | None = None):
        if categories is None:
            categories = OcopCategory.objects.select_related("current")
        self._current: dict[str, list[OcopCategory]] = {}
        self._old: dict[str, list[OcopCategory]] = {}
        current_by_seq: dict[int, OcopCategory] = {}
        for category in categories:
            if category.scheme == Scheme.QD148_2023:
                self._current.setdefault(match_key(category.name), []).append(category)
                current_by_seq[category.seq] = category
            elif category.scheme == Scheme.QD1048_2019:
                self._old.setdefault(match_key(category.name), []).append(category)
        self._aliases = {
            match_key(label): current_by_seq[seq] for label, seq in CATEGORY_ALIASES.items() if seq in current_by_seq
        }

    @staticmethod
    def _in_group(category: OcopCategory, group_key: str) -> bool:
        return group_key in {match_key(category.group), match_key(category.subgroup)}

    def _pick(self, candidates: list[OcopCategory], group_key: str) -> list[OcopCategory]:
        """The candidates narrowed by the group when the label alone is ambiguous. The group
        may be written in either scheme, so an old leaf also matches its current leaf's group."""
        if len(candidates) <= 1 or not group_key:
            return candidates
        return [
            c
            for c in candidates
            if self._in_group(c, group_key) or (c.current is not None and self._in_group(c.current, group_key))
        ]

    def find(self, label: str, *, group: str = "") -> OcopCategory | None:
        """The current (QĐ 148) leaf a label means, or None when unknown or still ambiguous.

        Tried in order: the current leaves' wording, the old leaves' wording (answering their
        current counterpart, None for the one old leaf that has none), then CATEGORY_ALIASES.
        """
        key, group_key = match_key(label), match_key(group)
        if not key:
            return None
        candidates = self._pick(self._current.get(key, []), group_key)
        if not candidates:
            old = self._pick(self._old.get(key, []), group_key)
            if old:
                candidates = [c.current for c in old]
        if not candidates and key in self._aliases:
            candidates = [self._aliases[key]]
        distinct = {None if c is None else c.pk: c for c in candidates}
        return next(iter(distinct.values())) if len(distinct) == 1 else None


def find_category(label: str, *, group: str = "") -> OcopCategory | None:
    """The current OCOP leaf for a subgroup label written by people (see CategoryMatcher.find).

    Accents, case and punctuation do not matter ("che tuoi, che bien" finds "Chè tươi, chế
    biến"); `group` (ngành or nhóm, either scheme) only decides between leaves that share a label.
    """
    return CategoryMatcher().find(label, group=group)
