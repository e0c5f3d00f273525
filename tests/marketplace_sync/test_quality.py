"""Data quality, "đúng, đủ, sạch, sống", per product and rolled up."""

import unicodedata

import pytest
from django.urls import reverse

from catalog.models import Product
from marketplace_sync import quality
from marketplace_sync.models import ProductFacts

from .conftest import approve, sellable_product
from .test_coverage import certified

pytestmark = pytest.mark.django_db


def flags(product) -> dict:
    facts = ProductFacts.objects.get(product=product)
    return {flag: getattr(facts, f"quality_{flag}") for flag in quality.FLAGS}


def test_a_complete_fresh_approved_product_passes_all_four(coop_a, member_a, officer):
    product = approve(sellable_product(coop_a, member_a), officer)  # approval assesses it
    assert flags(product) == {"correct": True, "complete": True, "clean": True, "alive": True}


def test_a_draft_without_photos_or_confirmed_stock_is_incomplete_and_not_alive(coop_a, member_a):
    product = certified(coop_a, member_a, "Mật ong bạc hà")
    quality.quality_refresh([product.pk])
    result = flags(product)
    assert not result["complete"] and not result["alive"] and result["correct"]
    problems = ProductFacts.objects.get(product=product).quality_problems
    assert problems["complete"] and problems["alive"]


def test_the_same_name_written_twice_and_decomposed_text_are_not_clean(coop_a, member_a, coop_b, member_b):
    first = certified(coop_a, member_a, "Chè Shan tuyết")
    second = certified(coop_a, member_a, "che shan tuyet")
    elsewhere = certified(coop_b, member_b, "Chè Shan tuyết")  # another cooperative may use the name
    typed_on_a_phone = certified(coop_b, member_b, "Gạo nếp")
    Product.objects.filter(pk=typed_on_a_phone.pk).update(name=unicodedata.normalize("NFD", "Gạo  nếp"))

    quality.quality_refresh()

    assert not flags(first)["clean"] and not flags(second)["clean"]
    assert flags(elsewhere)["clean"]
    assert not flags(typed_on_a_phone)["clean"]


def test_quality_rolls_up_per_cooperative_and_shows_as_a_worklist(client, officer, coop_a, member_a, coop_b, member_b):
    good = approve(sellable_product(coop_a, member_a), officer)
    certified(coop_b, member_b, "Mật ong bạc hà")
    quality.quality_refresh()

    rows = {row["key"]: row for row in quality.rollup(by="cooperative")}
    assert rows[str(coop_a.pk)]["all_four"] == 1 and rows[str(coop_a.pk)]["all_four_pct"] == 100.0
    assert rows[str(coop_b.pk)]["all_four"] == 0 and rows[str(coop_b.pk)]["products"] == 1

    client.force_login(officer)
    response = client.get(reverse("coverage_worklist", args=["quality"]), {"by": "cooperative"})
    names = [row[0] for row, _link in response.context["rows"]]
    assert names == ["Mật ong bạc hà"] and good.name not in names
    assert "Đủ" in response.content.decode() or "Complete" in response.content.decode()
