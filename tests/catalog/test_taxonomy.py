"""The OCOP classification: both schemes, the old-to-current links, and reading labels people wrote."""

import csv
import shutil
import unicodedata
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import translation

from catalog.models import OcopCategory
from catalog.taxonomy import MAPPING_FILE, CategoryMatcher, TaxonomyDataError, find_category, load_ocop_taxonomy

Scheme = OcopCategory.Scheme


def leaf(scheme, seq):
    return OcopCategory.objects.get(scheme=scheme, seq=seq)


def snapshot():
    return list(OcopCategory.objects.order_by("pk").values_list())


@pytest.fixture
def loaded(db):
    return load_ocop_taxonomy()


@pytest.mark.django_db
def test_both_schemes_are_loaded(loaded):
    assert OcopCategory.objects.filter(scheme=Scheme.QD1048_2019).count() == 26
    assert OcopCategory.objects.filter(scheme=Scheme.QD148_2023).count() == 26
    assert {scheme: counts.created for scheme, counts in loaded.schemes.items()} == {
        Scheme.QD1048_2019: 26,
        Scheme.QD148_2023: 26,
    }
    eight = leaf(Scheme.QD148_2023, 8)
    assert (eight.group_code, eight.group, eight.subgroup) == ("I", "Thực phẩm", "Thực phẩm chế biến")
    assert eight.managing_ministry == "Nông nghiệp; Công Thương"


@pytest.mark.django_db
def test_loading_again_changes_nothing(loaded):
    before = snapshot()
    again = load_ocop_taxonomy()
    assert snapshot() == before
    assert not again.changed
    assert all(counts.unchanged == 26 for counts in again.schemes.values())


@pytest.mark.django_db
def test_every_old_leaf_but_medical_equipment_has_a_current_counterpart(loaded):
    old = OcopCategory.objects.filter(scheme=Scheme.QD1048_2019).select_related("current")
    without = [category.seq for category in old if category.current is None]
    assert without == [21]
    assert [category.name for category in loaded.without_counterpart] == ["Trang thiết bị, dụng cụ y tế"]
    assert all(category.current.scheme == Scheme.QD148_2023 for category in old if category.current)
    assert loaded.linked == 25
    assert not OcopCategory.objects.filter(scheme=Scheme.QD148_2023, current__isnull=False).exists()


@pytest.mark.django_db
def test_links_follow_the_mapping_file(loaded):
    # Processed seafood merged into the leaf that names thủy sản; textiles moved to handicrafts.
    assert leaf(Scheme.QD1048_2019, 9).current == leaf(Scheme.QD148_2023, 8)
    assert leaf(Scheme.QD1048_2019, 22).current.name == "Tinh dầu và dược liệu khác"
    textiles = leaf(Scheme.QD1048_2019, 25).current
    assert (textiles.name, textiles.group) == ("Vải, may mặc", "Hàng thủ công mỹ nghệ")


def test_the_mapping_file_explains_every_old_leaf():
    with (settings.OCOP_DATA_DIR / MAPPING_FILE).open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["seq_1048"]) for row in rows] == list(range(1, 27))
    assert all(row["basis"].strip() for row in rows)


@pytest.mark.django_db
def test_every_subgroup_in_the_yen_bai_register_is_recognised(loaded):
    with (settings.OCOP_DATA_DIR / "yenbai_ocop_products.csv").open(encoding="utf-8-sig", newline="") as handle:
        pairs = {(row["product_group"], row["subgroup"]) for row in csv.DictReader(handle)}
    assert len(pairs) > 10
    for group, subgroup in pairs:
        category = find_category(subgroup)
        assert category is not None, subgroup
        assert category.scheme == Scheme.QD148_2023
        assert category.group == group
        assert find_category(subgroup, group=group) == category


@pytest.mark.django_db
def test_accents_case_punctuation_and_nfd_do_not_matter(loaded):
    official = "Chè tươi, chế biến"
    expected = leaf(Scheme.QD148_2023, 11)
    nfd = unicodedata.normalize("NFD", official)
    assert nfd != official
    for written in (official, nfd, "che tuoi che bien", "CHÈ TƯƠI - CHẾ BIẾN", "  Chè tươi,chế biến. "):
        assert find_category(written) == expected, written


@pytest.mark.django_db
def test_old_wording_lands_on_the_current_leaf(loaded):
    assert find_category("Chế biến từ thủy, hải sản") == leaf(Scheme.QD148_2023, 8)
    assert find_category("Thảo dược khác") == leaf(Scheme.QD148_2023, 20)
    assert find_category("Mỹ phẩm") == leaf(Scheme.QD148_2023, 19)
    assert find_category("Vải, may mặc", group="Vải, may mặc") == leaf(Scheme.QD148_2023, 22)
    assert find_category("Trang thiết bị, dụng cụ y tế") is None
    assert find_category("Rau sạch") is None
    assert find_category("") is None


@pytest.mark.django_db
def test_a_nhom_that_is_also_a_leaf_is_read_as_the_leaf(loaded):
    soft_drinks = leaf(Scheme.QD148_2023, 17)
    assert find_category("Đồ uống không cồn") == soft_drinks
    assert find_category("Đồ uống không cồn", group="Đồ uống") == soft_drinks


@pytest.mark.django_db
def test_the_group_decides_between_leaves_that_share_a_label(loaded):
    # No two real leaves share a label today; a made-up 27th leaf stands in for a future one.
    first = leaf(Scheme.QD148_2023, 24)
    twin = OcopCategory.objects.create(
        scheme=Scheme.QD148_2023,
        seq=27,
        group_code="IV",
        group="Hàng thủ công mỹ nghệ",
        subgroup="Cây cảnh",
        name="Cây cảnh",
    )
    assert find_category("Cây cảnh") is None  # ambiguous without a group
    assert find_category("Cây cảnh", group="Sinh vật cảnh") == first
    assert find_category("cay canh", group="Hàng thủ công mỹ nghệ") == twin


@pytest.mark.django_db
def test_one_matcher_reads_the_categories_once(loaded, django_assert_num_queries):
    with django_assert_num_queries(1):
        matcher = CategoryMatcher()
        found = [matcher.find(label) for label in ("Gia vị khác", "Rượu trắng", "Hoa", "Thảo dược khác")]
    assert all(found)


@pytest.mark.django_db
def test_an_old_leaf_missing_from_the_mapping_stops_the_load(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(settings.OCOP_DATA_DIR, data)
    lines = (data / MAPPING_FILE).read_text(encoding="utf-8").splitlines(keepends=True)
    (data / MAPPING_FILE).write_text("".join(line for line in lines if not line.startswith("13,")), encoding="utf-8")
    with pytest.raises(TaxonomyDataError):
        load_ocop_taxonomy(data_dir=data)
    assert not OcopCategory.objects.exists()


@pytest.mark.django_db
def test_the_command_reports_what_it_did():
    out = StringIO()
    with translation.override("en"):
        call_command("load_ocop_taxonomy", stdout=out)
        assert "No current counterpart: 21." in out.getvalue()
        out = StringIO()
        call_command("load_ocop_taxonomy", stdout=out)
    assert "Nothing changed" in out.getvalue()
