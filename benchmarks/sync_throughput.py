"""Benchmark of the sync engine against the four sandboxes (a script, not a test).

    .venv/bin/python benchmarks/sync_throughput.py [--products 500 2000] [--rate 10] [--faults 0.05]
        [--database-url postgres://postgres@127.0.0.1:5432/ocop_bench_sync] [--redis-url redis://127.0.0.1:6379/13]

For each size: a disposable PostgreSQL database is migrated and filled with N approved products,
split across four cooperatives with one shop each (Shopee, Lazada, TikTok Shop, Tiki), every
product with a price, stock, a photo and a valid certificate (names marked "[TỔNG HỢP]",
synthetic). The sandboxes run in this process on free ports, each limiting a shop to R requests
per second and failing a share of calls with their marketplace's 5xx. A real Celery worker (a
separate process, thread pool) on Redis does the work. The script measures:

- the achieved request rate per shop during the push, as a fraction of the allowed rate R;
- duplicates: items on a sandbox sharing a SKU (must be 0);
- lost updates: after two quick price changes per product, items whose price on the sandbox is
  not the product's final price (must be 0);
- total time, and the workers' peak memory (VmHWM, one worker process per marketplace queue),
  which should not grow with N.

It stops by itself, kills the worker and drops nothing but its own databases' contents.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = ("shopee", "lazada", "tiktok_shop", "tiki")
TEA = {"shopee": "100825", "lazada": "25156", "tiktok_shop": "916488", "tiki": "8274"}
SYNTHETIC = "[TỔNG HỢP]"


def setup(database_url: str, redis_url: str, ports: dict[str, int], media_root: Path) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SANDBOX_PORTS": ",".join(f"{name}={port}" for name, port in ports.items()),
        "MEDIA_ROOT": str(media_root),
        "LISTING_REVIEW_CHECK_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
        "BASE_URL": "http://127.0.0.1:9",  # no site runs; webhooks are not part of this benchmark
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return env


def ensure_database(database_url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def free_ports(count: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def connect(cooperative, channel_code, user):
    """The real authorisation flow against the sandbox, as a member would do it."""
    import re
    from html import unescape

    import requests

    from marketplace_sync import services
    from marketplace_sync.models import Channel
    from marketplace_sync.views import callback_url

    channel = Channel.objects.get(code=channel_code)
    url = services.account_connect_start(
        cooperative=cooperative, channel=channel, user=user, callback_url=callback_url(channel_code)
    )
    session = requests.Session()
    page = session.get(url, timeout=10).text
    form = {k: unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)}
    form["shop_name"] = f"{SYNTHETIC} {cooperative.name}"
    back = session.post(url, data=form, allow_redirects=False, timeout=10).headers["Location"]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))
    return services.account_connect_finish(
        channel=channel, query=query, user=user, callback_url=callback_url(channel_code)
    )


def create_products(total: int) -> tuple[list, list, object]:
    """N approved products over four cooperatives, written in bulk (the catalog's own flows
    are measured elsewhere; here only the sync engine is)."""
    import datetime

    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.utils import timezone
    from PIL import Image as PillowImage
    from wagtail.images import get_image_model

    from catalog.models import Certificate, OcopCategory, Offer, Product, ProductImage
    from cooperatives.models import Cooperative
    from marketplace_sync.models import CategoryMapping, Channel

    tea, _ = OcopCategory.objects.get_or_create(
        scheme=OcopCategory.Scheme.QD148_2023,
        seq=11,
        defaults={"group_code": "I", "group": "Thực phẩm", "subgroup": "Chè", "name": "Chè tươi, chế biến"},
    )
    for code, category_id in TEA.items():
        CategoryMapping.objects.update_or_create(
            channel=Channel.objects.get(code=code), ocop_category=tea, defaults={"marketplace_category_id": category_id}
        )
    buffer = io.BytesIO()
    PillowImage.new("RGB", (1000, 1000), (60, 120, 60)).save(buffer, "JPEG", quality=85)
    image = get_image_model()(title="benchmark", width=1000, height=1000, file=ContentFile(buffer.getvalue(), "b.jpg"))
    image._set_image_file_metadata()
    image.save()
    user = get_user_model().objects.create_user("bench", password="bench-pass-123")
    cooperatives = [
        Cooperative.objects.create(name=f"{SYNTHETIC} HTX {code}", slug=f"bench-{code}", kind="cooperative")
        for code in CHANNELS
    ]
    description = "Chè Shan tuyết tổng hợp dùng cho phép đo: " + "mô tả đủ dài cho mọi sàn. " * 6
    now = timezone.now()
    products = Product.objects.bulk_create(
        [
            Product(
                cooperative=cooperatives[index % len(cooperatives)],
                name=f"{SYNTHETIC} Chè Shan tuyết cổ thụ số {index:05d}",
                category=tea,
                description=description,
                weight_grams=250,
                package_length_cm=20,
                package_width_cm=10,
                package_height_cm=8,
                live=True,
                has_unpublished_changes=False,
                first_published_at=now,
                last_published_at=now,
            )
            for index in range(total)
        ],
        batch_size=500,
    )
    Offer.objects.bulk_create(
        [Offer(product=p, sku=Offer.sku_for(p.pk), price_vnd=150_000, stock=100, safety_buffer=2) for p in products],
        batch_size=500,
    )
    ProductImage.objects.bulk_create([ProductImage(product=p, image=image, sort_order=0) for p in products], 500)
    Certificate.objects.bulk_create(
        [
            Certificate(
                product=p,
                stars=4,
                decision_number=f"BENCH/{p.pk}",
                issuing_body="UBND tỉnh (tổng hợp)",
                decision_date=datetime.date.today() - datetime.timedelta(days=100),
                expires_on=datetime.date.today() + datetime.timedelta(days=900),
                verified_at=now,
            )
            for p in products
        ],
        batch_size=500,
    )
    return cooperatives, products, user


def start_workers(env: dict, concurrency: int) -> list[subprocess.Popen]:
    """One worker process per marketplace queue, as docs/connectors.md advises for production.

    A slow marketplace then never holds threads another marketplace could use; the first
    worker also takes the default queue (order pulls, listing plans)."""
    workers = []
    for position, code in enumerate(CHANNELS):
        queues = f"celery,sync.{code}" if position == 0 else f"sync.{code}"
        workers.append(
            subprocess.Popen(
                [
                    str(ROOT / ".venv/bin/celery"),
                    "-A",
                    "config",
                    "worker",
                    "--pool",
                    "threads",
                    "--concurrency",
                    str(concurrency),
                    "--queues",
                    queues,
                    "--hostname",
                    f"bench-{code}@%h",
                    "--loglevel",
                    "WARNING",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                ],  # fmt: skip
                env={**os.environ, **env},
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return workers


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_for(predicate, timeout: float, label: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise SystemExit(f"timed out waiting for {label}")


def item_fields(item: dict) -> tuple[str, int | None]:
    """(SKU, price) of a sandbox item, whatever the marketplace calls them."""
    sku = item.get("item_sku") or item.get("seller_sku") or item.get("original_sku") or ""
    price = item.get("original_price") or item.get("price_vnd") or item.get("price")
    if not sku and item.get("skus"):
        sku = item["skus"][0].get("seller_sku", "")
    return sku, int(float(price)) if price not in (None, "") else None


def run(size: int, args) -> dict:
    import requests
    from django.core.management import call_command
    from django.db.models import Max, Min

    from catalog import services as catalog_services
    from marketplace_sync import services
    from marketplace_sync.models import Channel, Listing, MarketplaceAccount, SyncAttempt, SyncJob
    from marketplace_sync.sandbox.base import SandboxServer
    from marketplace_sync.sandbox.registry import build_sandboxes

    call_command("migrate", verbosity=0)
    Channel.objects.filter(code__in=CHANNELS).update(requests_per_second=args.rate)
    sandboxes = build_sandboxes(review_seconds=0.0, callback_url=lambda code: f"http://127.0.0.1:9/cb/{code}/")
    from django.conf import settings

    server = SandboxServer(sandboxes, ports=settings.SANDBOX_PORTS).start()
    workers = []
    try:
        cooperatives, products, user = create_products(size)
        accounts = [connect(cooperative, code, user) for cooperative, code in zip(cooperatives, CHANNELS, strict=True)]
        for code in CHANNELS:
            requests.post(
                f"{server.url(code)}/_sandbox/faults",
                json={"requests_per_second": args.rate, "error_rate": args.faults, "seed": 2026},
                timeout=5,
            )
        workers = start_workers(EXTRA_ENV, args.concurrency)
        started = time.monotonic()
        for product in products:
            services.listings_plan_for_product(product=product)
        wait_for(
            lambda: not SyncJob.objects.filter(action="publish", status__in=("pending", "running")).exists(),
            timeout=3600,
            label="the first push",
        )
        push_done = time.monotonic()
        # two quick price changes per product: the marketplace must end with the second
        for step, price in enumerate((160_000, 170_000)):
            for product in products:
                catalog_services.offer_update(
                    product=product, user=user, change=catalog_services.OfferChange(price + product.pk % 7, 100, 2)
                )
            if step == 0:
                time.sleep(0.5)
        wait_for(
            lambda: not SyncJob.objects.filter(status__in=("pending", "running")).exists(),
            timeout=3600,
            label="the price updates",
        )
        finished = time.monotonic()
        rates = []
        for account in accounts:
            # every request the shop made while its products were being pushed
            publish = SyncAttempt.objects.filter(account=account, job__action="publish").aggregate(
                first=Min("created_at"), last=Max("created_at")
            )
            calls = SyncAttempt.objects.filter(
                account=account, created_at__gte=publish["first"], created_at__lte=publish["last"]
            ).count()
            span = (publish["last"] - publish["first"]).total_seconds()
            rates.append((calls - 1) / span / args.rate if span else 0)
        duplicates = lost = live = 0
        expected = {p.offer.sku: 170_000 + p.pk % 7 for p in products}
        for account in accounts:
            items = requests.get(
                f"{server.url(account.channel.code)}/_sandbox/items", params={"shop_id": account.shop_id}, timeout=30
            ).json()["items"]
            seen: dict[str, int] = {}
            for item in items:
                sku, price = item_fields(item)
                seen[sku] = seen.get(sku, 0) + 1
                if sku in expected and price != expected[sku]:
                    lost += 1
            duplicates += sum(count - 1 for count in seen.values() if count > 1)
        live = Listing.objects.filter(reported_state="live").count()
        failed = SyncJob.objects.filter(status="failed").count()
        memory = max(peak_memory_mb(worker.pid) for worker in workers)
        return {
            "products": size,
            "live": live,
            "failed_jobs": failed,
            "rate_fraction": sum(rates) / len(rates),
            "duplicates": duplicates,
            "lost_updates": lost,
            "push_s": push_done - started,
            "total_s": finished - started,
            "worker_mb": memory,
            "http_calls": SyncAttempt.objects.count(),
            "throttled": sum(app.stats.throttled for app in sandboxes.values()),
            "injected_errors": sum(app.stats.injected_errors for app in sandboxes.values()),
            "accounts": MarketplaceAccount.objects.count(),
        }
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
        server.stop()


EXTRA_ENV: dict = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second allowed per shop")
    parser.add_argument("--faults", type=float, default=0.05, help="share of calls failing with a 5xx")
    parser.add_argument("--concurrency", type=int, default=8, help="threads per worker process")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/ocop_bench_sync")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size is None:  # the parent: one fresh process per size, so memory figures compare
        print(
            f"{'products':>8} {'live':>6} {'failed':>6} {'rate/R':>7} {'dupl.':>6} {'lost':>5} {'push s':>7} "
            f"{'total s':>8} {'worker MB':>9} {'calls':>7} {'429s':>5} {'5xx':>5}"
        )
        for size in args.products:
            output = subprocess.run(
                [sys.executable, __file__, *sys.argv[1:], "--size", str(size)],
                capture_output=True,
                text=True,
                timeout=7200,
            )
            print(output.stdout.strip() or output.stderr[-3000:])
        print(f"R = {args.rate:g} requests/s per shop, {args.faults:.0%} of calls fail with a 5xx, 4 shops, "
              f"one Celery worker process per marketplace queue with {args.concurrency} threads, Redis, "
              "PostgreSQL; worker MB = the largest worker's peak resident memory.")  # fmt: skip
        return
    import shutil
    import tempfile

    ports = dict(zip(CHANNELS, free_ports(len(CHANNELS)), strict=True))
    media = Path(tempfile.mkdtemp(prefix="ocop-bench-media-"))
    ensure_database(args.database_url)
    EXTRA_ENV.update(setup(args.database_url, args.redis_url, ports, media))
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    try:
        r = run(args.size, args)
    finally:
        shutil.rmtree(media, ignore_errors=True)
    print(
        f"{r['products']:>8} {r['live']:>6} {r['failed_jobs']:>6} {r['rate_fraction']:>7.2f} {r['duplicates']:>6} "
        f"{r['lost_updates']:>5} {r['push_s']:>7.1f} {r['total_s']:>8.1f} {r['worker_mb']:>9.1f} "
        f"{r['http_calls']:>7} {r['throttled']:>5} {r['injected_errors']:>5}"
    )


if __name__ == "__main__":
    main()
