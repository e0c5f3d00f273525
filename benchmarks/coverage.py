"""Benchmark of the coverage dashboard at national scale (a script, not a test).

    .venv/bin/python benchmarks/coverage.py [--products 20000] [--cooperatives 3000]
        [--listings 120000] [--order-lines 1000000] [--runs 5]
        [--database-url postgres://postgres@127.0.0.1:5432/ocop_bench_coverage]

A disposable PostgreSQL database is migrated and filled with a synthetic province (every name
marked "[TỔNG HỢP]"): cooperatives spread over all the communes of the data (pre- and
post-2025), products with certificates (a tenth known only by year, some expired), listings in
every state on the counted channels, then order lines in two steps: first a tenth of them,
then the rest. Orders are written with COPY, and the per-product facts are rebuilt with the
backfill, which is timed too. After each step the script prints the median of `--runs` runs
of: the province headline, the commune breakdown, the first page of each worklist and the XLSX
export of the commune table (those three through the admin, as an officer's browser gets
them), and the whole dashboard page.

Targets (issue 4): each page at most 300 ms on this 2-core machine; the headline at the full
order volume at most 1.2 × its time at a tenth of it.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import random
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNTHETIC = "[TỔNG HỢP]"
COUNTED = ("shopee", "lazada", "tiktok_shop", "tiki", "postmart", "voso", "showcase")


def ensure_database(database_url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def setup(database_url: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.dev",
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        }
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def timed(function, runs: int) -> float:
    """Median wall time of `runs` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def build_province(args, rng: random.Random) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from catalog.models import Certificate, OcopCategory, Offer, Product
    from catalog.taxonomy import load_ocop_taxonomy
    from cooperatives.models import AdministrativeUnit, Cooperative
    from cooperatives.roles import OFFICERS
    from cooperatives.units import load_administrative_units
    from marketplace_sync.models import Channel, Listing, MarketplaceAccount

    load_administrative_units()
    load_ocop_taxonomy()
    communes = list(AdministrativeUnit.objects.filter(level="commune").values_list("pk", flat=True))
    categories = list(OcopCategory.objects.filter(scheme=OcopCategory.Scheme.QD148_2023).values_list("pk", flat=True))
    kinds = [choice for choice, _label in Cooperative.Kind.choices]
    cooperatives = Cooperative.objects.bulk_create(
        [
            Cooperative(
                name=f"{SYNTHETIC} HTX số {index:05d}",
                slug=f"tong-hop-{index:05d}",
                kind=rng.choice(kinds),
                commune_id=rng.choice(communes),
            )
            for index in range(args.cooperatives)
        ],
        batch_size=1000,
    )
    now = timezone.now()
    products = Product.objects.bulk_create(
        [
            Product(
                cooperative=cooperatives[index % len(cooperatives)],
                name=f"{SYNTHETIC} Sản phẩm số {index:06d}",
                category_id=rng.choice(categories),
                origin_commune_id=rng.choice(communes) if rng.random() < 0.9 else None,
                live=rng.random() < 0.85,
                has_unpublished_changes=False,
            )
            for index in range(args.products)
        ],
        batch_size=1000,
    )
    Offer.objects.bulk_create(
        [Offer(product=p, sku=Offer.sku_for(p.pk), price_vnd=120_000, stock=50) for p in products], batch_size=1000
    )
    today = timezone.localdate()
    certificates = []
    for product in products:
        draw = rng.random()
        if draw < 0.1:  # known only by year
            certificates.append(
                Certificate(
                    product=product,
                    stars=rng.choice((3, 4, 5)),
                    decision_year=today.year - rng.randint(0, 3),
                    verified_at=now,
                )  # fmt: skip
            )
            continue
        decided = today - datetime.timedelta(days=rng.randint(0, 5 * 365))  # some have expired
        certificates.append(
            Certificate(
                product=product,
                stars=rng.choice((3, 3, 4, 4, 5)),
                decision_number=f"{SYNTHETIC}/{product.pk}",
                decision_date=decided,
                expires_on=Certificate.default_expiry(decided),
                decision_year=decided.year,
                verified_at=now,
            )
        )
    Certificate.objects.bulk_create(certificates, batch_size=1000)
    channels = {channel.code: channel for channel in Channel.objects.filter(code__in=COUNTED)}
    per_product = max(1, round(args.listings / args.products))
    accounts: dict[tuple[int, str], MarketplaceAccount] = {}
    account_rows = []
    for cooperative in cooperatives:
        for code in rng.sample(COUNTED, k=min(per_product, len(COUNTED))):
            account_rows.append(
                MarketplaceAccount(
                    cooperative=cooperative,
                    channel=channels[code],
                    status="connected",
                    shop_id=f"{code}-{cooperative.pk}",
                    shop_name=f"{SYNTHETIC} {cooperative.name}",
                    authorization_expires_at=now + datetime.timedelta(days=rng.randint(1, 365)),
                )
            )
    for account in MarketplaceAccount.objects.bulk_create(account_rows, batch_size=1000):
        accounts.setdefault((account.cooperative_id, account.channel.code), account)
    states = [
        (Listing.Reported.LIVE, 0.6),
        (Listing.Reported.IN_REVIEW, 0.1),
        (Listing.Reported.REJECTED, 0.1),
        (Listing.Reported.FAILED, 0.05),
        (Listing.Reported.WITHDRAWN, 0.1),
        (Listing.Reported.QUEUED, 0.05),
    ]
    listings = []
    by_cooperative: dict[int, list] = {}
    for (cooperative_id, _code), account in accounts.items():
        by_cooperative.setdefault(cooperative_id, []).append(account)
    for product in products:
        for account in by_cooperative.get(product.cooperative_id, []):
            if len(listings) >= args.listings:
                break
            state = rng.choices([s for s, _w in states], weights=[w for _s, w in states])[0]
            was_live = state in (Listing.Reported.LIVE, Listing.Reported.WITHDRAWN)
            listings.append(
                Listing(
                    product=product,
                    account=account,
                    channel_id=account.channel_id,
                    reported_state=state,
                    external_id=f"{account.channel_id}-{product.pk}-{account.pk}",
                    first_live_at=now - datetime.timedelta(days=rng.randint(30, 700)) if was_live else None,
                    live_until=now - datetime.timedelta(days=rng.randint(1, 29))
                    if state == Listing.Reported.WITHDRAWN
                    else None,
                    raw_reason="Ảnh sản phẩm chưa đạt yêu cầu" if state == Listing.Reported.REJECTED else "",
                    who_must_act="cooperative" if state == Listing.Reported.REJECTED else "nobody",
                )
            )
    Listing.objects.bulk_create(listings, batch_size=2000)
    officer = get_user_model().objects.create_user("bench.officer", password="bench-pass-123")
    officer.groups.add(Group.objects.get(name=OFFICERS))
    return {"products": products, "accounts": accounts, "officer": officer}


def add_order_lines(count: int, start_number: int, province: dict, rng: random.Random) -> None:
    """Write `count` order lines (two per order) with COPY, over the last two years."""
    from django.db import connection
    from django.utils import timezone

    from catalog.models import Offer

    products = province["products"]
    accounts = province["accounts"]
    by_cooperative: dict[int, list] = {}
    for (cooperative_id, _code), account in accounts.items():
        by_cooperative.setdefault(cooperative_id, []).append(account)
    now = timezone.now()
    statuses = ["completed"] * 6 + ["paid", "shipped", "cancelled", "returned"]
    orders = io.StringIO()
    lines = io.StringIO()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM marketplace_sync_order")
        next_id = cursor.fetchone()[0] + 1
    for number in range(count // 2):
        product = products[rng.randrange(len(products))]
        own = by_cooperative.get(product.cooperative_id)
        if not own:
            continue
        account = own[rng.randrange(len(own))]
        ordered = now - datetime.timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60))
        order_id = next_id + number
        stamp = ordered.isoformat()
        orders.write(
            f"{order_id}\t{account.channel_id}\t{account.pk}\t{product.cooperative_id}"
            f"\t{SYNTHETIC}{start_number + number}\t{rng.choice(statuses)}\t\t240000"
            f"\t{stamp}\t{stamp}\t{stamp}\t{stamp}\n"
        )
        for line_number in (1, 2):
            lines.write(
                f"{order_id}\t{product.pk}\t{line_number}\t{Offer.sku_for(product.pk)}\t{SYNTHETIC}\t1\t120000\t0\n"
            )
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY marketplace_sync_order (id, channel_id, account_id, cooperative_id, external_id, status, raw_status,"
            " total_vnd, ordered_at, remote_updated_at, created_at, updated_at) FROM STDIN"
        ) as copy:
            copy.write(orders.getvalue())
        with cursor.copy(
            "COPY marketplace_sync_orderline (order_id, product_id, external_line_id, sku, name, quantity,"
            " unit_price_vnd, stock_taken) FROM STDIN"
        ) as copy:
            copy.write(lines.getvalue())
        cursor.execute("ANALYZE")


def measure(runs: int, province: dict) -> dict:
    from django.test import Client
    from django.urls import reverse

    from marketplace_sync import coverage, worklists

    client = Client()
    client.force_login(province["officer"])
    figures = {
        "headline": timed(lambda: coverage.coverage_table(), runs),
        "communes": timed(lambda: coverage.coverage_table(by="commune"), runs),
    }
    for name in worklists.WORKLISTS:
        url = reverse("coverage_worklist", args=[name])
        figures[f"worklist {name}"] = timed(lambda url=url: _ok(client.get(url)), runs)
    dashboard = reverse("coverage_dashboard")
    figures["xlsx communes"] = timed(lambda: _ok(client.get(dashboard, {"by": "commune", "format": "xlsx"})), runs)
    figures["dashboard page"] = timed(lambda: _ok(client.get(dashboard, {"by": "commune"})), runs)
    return figures


def _ok(response):
    if response.status_code != 200:
        raise SystemExit(f"{response.status_code} from {response.request['PATH_INFO']}")
    return response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--cooperatives", type=int, default=3_000)
    parser.add_argument("--listings", type=int, default=120_000)
    parser.add_argument("--order-lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/ocop_bench_coverage")
    args = parser.parse_args()
    ensure_database(args.database_url)
    setup(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    from marketplace_sync import facts
    from marketplace_sync.models import Listing, Order, OrderLine, ProductSaleDay

    rng = random.Random(args.seed)
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    province = build_province(args, rng)
    print(
        f"Built {len(province['products']):,} products, {args.cooperatives:,} cooperatives, "
        f"{Listing.objects.count():,} listings in {time.perf_counter() - started:.0f} s"
    )
    results = {}
    first = args.order_lines // 10
    for step, lines in (("tenth", first), ("full", args.order_lines - first)):
        add_order_lines(lines, Order.objects.count(), province, rng)
        start = time.perf_counter()
        facts.product_facts_refresh()
        backfill = time.perf_counter() - start
        with connection.cursor() as cursor:  # what autovacuum does after a bulk change
            cursor.execute("VACUUM ANALYZE")
        total_lines = OrderLine.objects.count()
        print(
            f"\n{total_lines:,} order lines ({ProductSaleDay.objects.count():,} sale days); "
            f"facts rebuilt for every product in {backfill:.1f} s. Median of {args.runs} runs, ms:"
        )
        results[step] = measure(args.runs, province)
        for name, value in results[step].items():
            print(f"  {name:<28} {value:8.1f}")
    ratio = results["full"]["headline"] / results["tenth"]["headline"]
    print(f"\nHeadline at {args.order_lines:,} order lines / at {first:,}: {ratio:.2f}× (aim ≤ 1.2×)")
    slowest = max((value, name) for name, value in results["full"].items() if name != "dashboard page")
    print(f"Slowest page at full volume: {slowest[1]} {slowest[0]:.0f} ms (aim ≤ 300 ms)")


if __name__ == "__main__":
    main()
