"""Coverage arithmetic on hand-built cases (docs/coverage.md), through the platform's services."""

import datetime
import io
import json

import pytest
from dateutil.relativedelta import relativedelta
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone
from openpyxl import load_workbook

from catalog.models import Certificate
from cooperatives.models import AdministrativeUnit, AdministrativeUnitSuccession
from cooperatives.units import load_administrative_units
from marketplace_sync import coverage, exports, facts, services
from marketplace_sync.connectors.base import ListingStatus, OrderStatus, RemoteListing, RemoteOrder, RemoteOrderLine
from marketplace_sync.models import Channel, Listing, MarketplaceAccount
from tests import factories

from .conftest import approve, sellable_product

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def certified(coop, user, name, *, decision_date=None, stars=4, **fields):
    """A product with one verified certificate decided on `decision_date` (default 100 days ago)."""
    product = factories.make_product(coop, user, name=name, complete=False)
    if fields:
        type(product).objects.filter(pk=product.pk).update(**fields)
        product.refresh_from_db()
    factories.add_valid_certificate(product, stars=stars, decision_date=decision_date)
    return product


def totals(**kwargs) -> dict:
    return coverage.coverage_table(**kwargs).total.as_dict()


def shop(coop, code="shopee") -> MarketplaceAccount:
    return MarketplaceAccount.objects.create(
        cooperative=coop, channel=Channel.objects.get(code=code), status="connected", shop_id=f"{code}-{coop.pk}"
    )


def report_listing(listing: Listing, status: ListingStatus, raw: str = "") -> None:
    """The marketplace reports the item's state (what a sync job or a webhook records)."""
    listing.refresh_from_db()
    services._apply_remote(listing, RemoteListing(external_id=f"item-{listing.pk}", status=status, raw_status=raw))


def sell(product, account, status=OrderStatus.PAID, *, number="A1", when=None, minutes=0):
    when = when or timezone.now()
    line = RemoteOrderLine(external_line_id="1", sku=product.offer.sku, quantity=1, unit_price_vnd=100_000)
    remote = RemoteOrder(
        external_id=number,
        status=status,
        raw_status=status.value.upper(),
        created_at=when,
        updated_at=when + datetime.timedelta(minutes=minutes),
        total_vnd=100_000,
        lines=(line,),
    )
    return services.order_upsert(
        account=account, channel=account.channel, cooperative_id=account.cooperative_id, remote=remote
    )


def test_a_certificate_expiring_mid_period_counts_only_while_valid(coop_a, member_a):
    decided = TODAY - relativedelta(months=36) - datetime.timedelta(days=30)  # expired 30 days ago
    certified(coop_a, member_a, "Mật ong bạc hà", decision_date=decided)
    certified(coop_a, member_a, "Chè Shan tuyết")

    assert totals(as_of=TODAY - datetime.timedelta(days=60))["certified"] == 2
    assert totals(as_of=TODAY)["certified"] == 1


def test_a_product_re_certified_under_a_new_decision_counts_once_with_its_new_stars(coop_a, member_a):
    product = certified(coop_a, member_a, "Chè Shan tuyết", decision_date=TODAY - datetime.timedelta(days=500), stars=3)
    factories.add_valid_certificate(product, stars=4, decision_date=TODAY - datetime.timedelta(days=20), number="1/QĐ")

    table = coverage.coverage_table(by="stars")
    assert table.total.certified == 1
    assert [(row.key, row.certified) for row in table.rows] == [("4", 1)]


def test_certificates_known_only_by_year_count_for_three_years_and_unknown_ones_not_at_all(coop_a, member_a):
    recent = factories.make_product(coop_a, member_a, name="Miến đao", complete=False)
    Certificate.objects.create(product=recent, stars=3, decision_year=TODAY.year - 2, verified_at=timezone.now())
    old = factories.make_product(coop_a, member_a, name="Măng khô", complete=False)
    Certificate.objects.create(product=old, stars=3, decision_year=TODAY.year - 3, verified_at=timezone.now())
    unknown = factories.make_product(coop_a, member_a, name="Gạo nếp", complete=False)
    Certificate.objects.create(product=unknown, stars=3, verified_at=timezone.now())

    table = coverage.coverage_table()
    assert table.total.certified == 1 and table.total.estimated == 1
    assert table.validity_unknown == 1
    assert coverage.coverage_table(as_of=datetime.date(TODAY.year - 1, 6, 1)).total.certified == 2


@pytest.mark.parametrize("ending", [OrderStatus.CANCELLED, OrderStatus.RETURNED])
def test_a_cancelled_or_returned_order_is_not_a_sale(coop_a, member_a, ending):
    product = sellable_product(coop_a, member_a)
    account = shop(coop_a)
    sell(product, account, OrderStatus.PAID)
    assert totals()["with_sales"] == 1 and totals()["with_sales_in_period"] == 1

    sell(product, account, ending, minutes=5)

    assert totals()["with_sales"] == 0 and totals()["with_sales_in_period"] == 0


def test_sales_count_in_the_period_they_happened(coop_a, member_a):
    product = sellable_product(coop_a, member_a)
    account = shop(coop_a)
    sell(product, account, OrderStatus.COMPLETED, when=timezone.now() - datetime.timedelta(days=40))

    assert totals(period_start=TODAY - datetime.timedelta(days=30))["with_sales_in_period"] == 0
    assert totals(period_start=TODAY - datetime.timedelta(days=30))["with_sales"] == 1
    assert totals(period_start=TODAY - datetime.timedelta(days=60))["with_sales_in_period"] == 1
    assert totals(as_of=TODAY - datetime.timedelta(days=41))["with_sales"] == 0


@pytest.mark.parametrize("ending", [ListingStatus.WITHDRAWN, ListingStatus.BANNED])
def test_a_withdrawn_or_banned_listing_stops_counting_as_listed(coop_a, member_a, ending):
    product = sellable_product(coop_a, member_a)
    account = shop(coop_a)
    listing = Listing.objects.create(product=product, account=account, channel=account.channel)
    report_listing(listing, ListingStatus.IN_REVIEW)
    assert totals()["listed"] == 0
    report_listing(listing, ListingStatus.LIVE)
    assert totals()["listed"] == 1 and totals()["listed_pct"] == 100.0

    report_listing(listing, ending)

    assert totals()["listed"] == 0
    listing.refresh_from_db()
    assert listing.live_until is not None
    # Yesterday it was not live yet either: it went live today.
    assert totals(as_of=TODAY - datetime.timedelta(days=1))["listed"] == 0


def test_export_channels_count_only_after_the_listing_address_is_confirmed(coop_a, member_a, officer):
    product = approve(sellable_product(coop_a, member_a), officer)
    postmart = exports.export_account(cooperative=coop_a, channel=Channel.objects.get(code="postmart"))
    google = Channel.objects.get(code="google_merchant")  # feeds never count
    Listing.objects.create(
        product=product,
        account=MarketplaceAccount.objects.create(cooperative=coop_a, channel=google, status="connected"),
        channel=google,
        reported_state=Listing.Reported.LIVE,
        first_live_at=timezone.now(),
    )
    facts.product_facts_refresh([product.pk])
    assert totals()["listed"] == 0

    exports.listing_confirm_url(
        product=product, account=postmart, url="https://postmart.vn/san-pham/che-123", user=member_a
    )
    by_channel = {row.key: row for row in coverage.coverage_table(by="channel").rows}
    assert totals()["listed"] == 1
    assert by_channel["postmart"].listed == 1 and by_channel["shopee"].listed == 0
    assert "google_merchant" not in by_channel

    exports.listing_take_down(product=product, account=postmart, user=member_a)
    assert totals()["listed"] == 0


def _merged_communes() -> tuple[AdministrativeUnit, AdministrativeUnit, AdministrativeUnit]:
    """Two pre-2025 communes that wholly became one 2025 commune (from the real data)."""
    whole = AdministrativeUnitSuccession.objects.filter(is_partial=False, predecessor__level="commune")
    single = (
        AdministrativeUnitSuccession.objects.values("predecessor")
        .annotate(n=Count("pk"))
        .filter(n=1)
        .values("predecessor")
    )
    successor = (
        whole.filter(predecessor__in=single)
        .values("successor")
        .annotate(n=Count("pk"))
        .filter(n__gte=2)
        .order_by("successor")
        .first()["successor"]
    )
    first, second = [s.predecessor for s in whole.filter(successor=successor, predecessor__in=single)[:2]]
    return first, second, AdministrativeUnit.objects.get(pk=successor)


def test_two_old_communes_merged_into_one_new_commune_roll_up_together(coop_a, coop_b, member_a, member_b):
    load_administrative_units()
    first, second, new = _merged_communes()
    certified(coop_a, member_a, "Chè Shan tuyết", origin_commune=first)
    certified(coop_b, member_b, "Mật ong", origin_commune=second)
    certified(coop_b, member_b, "Gạo nếp")  # no commune known: "not determined"

    communes = coverage.coverage_table(by="commune")
    rows = {row.key: row.certified for row in communes.rows}
    assert rows[new.code] == 2 and rows[coverage.UNKNOWN_KEY] == 1
    districts = coverage.coverage_table(by="district")
    assert sum(row.certified for row in districts.rows) == communes.total.certified == 3
    assert sum(row.certified for row in communes.rows) == 3
    behind = coverage.coverage_products(by="commune", key=new.code)
    assert sorted(p.name for p in behind) == ["Chè Shan tuyết", "Mật ong"]


def test_a_member_sees_only_their_own_cooperative(coop_a, coop_b, member_a, member_b):
    certified(coop_a, member_a, "Chè Shan tuyết")
    certified(coop_b, member_b, "Mật ong")
    certified(coop_b, member_b, "Gạo nếp")

    own = coverage.coverage_table(by="cooperative", cooperative_ids=[coop_a.pk])
    assert own.total.certified == 1
    assert [row.key for row in own.rows] == [str(coop_a.pk)]
    assert [p.name for p in coverage.coverage_products(cooperative_ids=[coop_a.pk])] == ["Chè Shan tuyết"]


@pytest.mark.parametrize("by", [None, *coverage.BREAKDOWNS])
def test_every_breakdown_costs_the_same_queries_whatever_the_data_size(
    coop_a, coop_b, coop_c, member_a, member_b, django_assert_max_num_queries, by
):
    load_administrative_units()
    communes = list(AdministrativeUnit.objects.filter(level="commune").order_by("pk")[:12])
    account = shop(coop_a)
    first = certified(coop_a, member_a, "Chè 1", origin_commune=communes[0])
    with django_assert_max_num_queries(100) as small:
        coverage.coverage_table(by=by)
    for index, unit in enumerate(communes[1:], start=2):
        coop = (coop_a, coop_b, coop_c)[index % 3]
        product = certified(coop, member_a, f"Chè {index}", origin_commune=unit, stars=3 + index % 3)
        Listing.objects.create(product=product, account=account, channel=account.channel)
    sellable = sellable_product(coop_a, member_a)
    sell(sellable, account)
    assert first.pk
    with django_assert_max_num_queries(len(small.captured_queries)):
        coverage.coverage_table(by=by)


def test_the_report_command_and_the_exports_agree_with_the_json(coop_a, member_a, tmp_path):
    product = sellable_product(coop_a, member_a)
    certified(coop_a, member_a, "Mật ong")
    sell(product, shop(coop_a))

    out = io.StringIO()
    call_command("coverage_report", "--by", "stars", "--format", "json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["total"]["certified"] == 2 and report["total"]["with_sales"] == 1
    assert report["total"]["with_sales_pct"] == 50.0
    assert set(report["total"]) >= {"certified", "listed", "with_sales", "listed_pct", "with_sales_pct"}

    path = tmp_path / "coverage.xlsx"
    call_command("coverage_report", "--by", "stars", "--format", "xlsx", "--output", str(path), stderr=io.StringIO())
    sheet = load_workbook(path).active
    header = [cell.value for cell in sheet[4]]
    assert header[2] == "Sản phẩm OCOP được chứng nhận"  # Vietnamese headers
    last = [cell.value for cell in sheet[sheet.max_row]]
    assert last[2:7] == [2, 0, 0, 1, 50]
    assert "buyer" not in json.dumps(report).lower()

    csv_path = tmp_path / "coverage.csv"
    call_command("coverage_report", "--format", "csv", "--output", str(csv_path), stderr=io.StringIO())
    text = csv_path.read_text(encoding="utf-8-sig").splitlines()
    assert text[-1].startswith("total,") and ",2,0,0.0,1,50.0," in text[-1]


def test_the_backfill_rebuilds_the_same_facts(coop_a, member_a):
    product = sellable_product(coop_a, member_a)
    account = shop(coop_a)
    listing = Listing.objects.create(product=product, account=account, channel=account.channel)
    report_listing(listing, ListingStatus.LIVE)
    sell(product, account)
    live = facts.facts_snapshot()
    assert live  # the services kept facts

    out = io.StringIO()
    call_command("coverage_backfill", "--check", stdout=out)

    assert "agreed" in out.getvalue() or "khớp" in out.getvalue()
    assert facts.facts_snapshot() == live


def test_a_snapshot_keeps_history_when_things_change_afterwards(coop_a, member_a):
    from marketplace_sync.models import CoverageSnapshot

    product = certified(coop_a, member_a, "Chè Shan tuyết")
    day = TODAY - datetime.timedelta(days=1)
    call_command("coverage_snapshot", "--as-of", day.isoformat(), stdout=io.StringIO())
    call_command("coverage_snapshot", "--as-of", day.isoformat(), stdout=io.StringIO())  # again: replaced, not doubled

    product.certificates.all().delete()  # the certificate is withdrawn later
    product.delete()

    assert coverage.coverage_table(as_of=day).total.certified == 0
    frozen = coverage.snapshot_totals([day])[day]
    assert frozen.certified == 1 and frozen.label
    assert CoverageSnapshot.objects.filter(as_of=day, by="").count() == 1
    assert CoverageSnapshot.objects.filter(as_of=day, by="cooperative").get().label == "HTX Chè Khe Năm"
