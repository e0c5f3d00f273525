"""Which marketplace category each OCOP product set goes to.

Seeded from data/marketplaces/ocop_category_map.csv, a researched proposal with sources (read
data/marketplaces/README.md: only the Shopee and Tiki trees are Vietnam's; the TikTok ids come
from the Indonesian tree and the Lazada Philippines short ids must not be used for a VN shop).
Officers correct the mapping in the admin; a reload never overwrites a mapping an officer
changed, it only fills what is missing.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from catalog.taxonomy import CategoryMatcher

from .models import CategoryMapping, Channel

MAP_FILE = "marketplaces/ocop_category_map.csv"
COLUMNS = {
    "shopee": ("shopee_category_id", "marketplaces/shopee_categories_vn.csv"),
    "lazada": ("lazada_category_id", "marketplaces/lazada_categories_ph-region.csv"),
    "tiktok_shop": ("tiktok_category_id", "marketplaces/tiktok_categories_id-region.csv"),
    "tiki": ("tiki_category_id", "marketplaces/tiki_categories_vn.csv"),
}


@dataclass
class CategoryLoadResult:
    created: int = 0
    unchanged: int = 0
    unmatched_subgroups: list[str] | None = None


def _paths(data_dir: Path, relative: str) -> dict[str, str]:
    with (data_dir / relative).open(encoding="utf-8-sig", newline="") as handle:
        return {row["category_id"]: row.get("path") or row.get("path_en") or "" for row in csv.DictReader(handle)}


@transaction.atomic
def load_category_mappings(*, data_dir: Path | None = None) -> CategoryLoadResult:
    data_dir = Path(data_dir or settings.OCOP_DATA_DIR)
    result = CategoryLoadResult(unmatched_subgroups=[])
    matcher = CategoryMatcher()
    channels = {channel.code: channel for channel in Channel.objects.filter(code__in=COLUMNS)}
    paths = {code: _paths(data_dir, file) for code, (_column, file) in COLUMNS.items()}
    with (data_dir / MAP_FILE).open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            category = matcher.find(row["ocop_subgroup"])
            if category is None:
                result.unmatched_subgroups.append(row["ocop_subgroup"])
                continue
            for code, (column, _file) in COLUMNS.items():
                marketplace_id = (row.get(column) or "").strip()
                _mapping, created = CategoryMapping.objects.get_or_create(
                    channel=channels[code],
                    ocop_category=category,
                    defaults={
                        "marketplace_category_id": marketplace_id,
                        "marketplace_category_path": paths[code].get(marketplace_id, "")[:400],
                        "note": row.get("notes", ""),
                    },
                )
                if created:
                    result.created += 1
                else:
                    result.unchanged += 1
    return result
