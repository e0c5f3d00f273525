"""Load test of the public showcase under gunicorn, as visitors get it (a script, not a test).

    .venv/bin/python benchmarks/showcase_load.py [--products 20000] [--duration 15] [--warmup 5]
        [--connections 20] [--threads 2] [--workers N] [--reuse] [--skip-uncached]
        [--database-url postgres://postgres@127.0.0.1:5432/ocop_bench_showcase]
        [--redis-url redis://127.0.0.1:6379/13]

A PostgreSQL database of its own is filled with a synthetic province (benchmarks/coverage.py
builds it; every name is marked "[TỔNG HỢP]"), every product approved, with Vietnamese names
and descriptions so that the search finds something; one product is taken through the real
flow (three photos, submitted, approved by an officer) and is the sampled product page. The
site then runs under gunicorn with the production settings, Redis as the cache (a database
number of its own, emptied before and after), and wrk drives it from 127.0.0.1: the home page,
the product list, the product page, a search and /healthz/, the trivial view of the same app
and so the ceiling. Each URL is measured after a warm-up, first as an anonymous visitor (the
whole-page cache warm), then with a cookie, which makes the same pages render every time.

Targets (product owner): with the cache warm, the product list and the product page at least
0.5 of the trivial view's requests per second, p95 under 200 ms at 20 concurrent clients; a
product page without its images at most 150 KB transferred. Without the cache, docs/performance.md
aims at list pages ≥ 0.05 of the trivial view in at most 12 SQL queries.

Without --reuse the database is created afresh and dropped at the end; with --reuse it is kept
(photos under benchmarks/out/showcase_load/) and the next run with --reuse skips the build.
Needs wrk (apt-get install -y --no-install-recommends wrk).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import importlib.util
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEPT_MEDIA = ROOT / "benchmarks" / "out" / "showcase_load" / "media"
PRODUCT_OWNER_TARGET_RATIO = 0.5
PRODUCT_OWNER_TARGET_P95_MS = 200
PRODUCT_OWNER_TARGET_PAGE_KB = 150
PERFORMANCE_DOC_UNCACHED_RATIO = 0.05
PERFORMANCE_DOC_MAX_QUERIES = 12
# A cookie is what makes the page cache step aside (cms.middleware): any visitor who has one
# gets a freshly rendered page. Its name means nothing to the app.
BYPASS_CACHE_COOKIE = "showcase-bench=1"
SEARCH_PATH = "/search/?q=mat+ong"
TRIVIAL_PATH = "/healthz/"

# Kinds of OCOP products of the province, so that names and descriptions read like the real
# register and a search for "mat ong" finds about one product in eight.
PRODUCT_KINDS = [
    ("Mật ong", ["hoa bạc hà", "rừng nguyên chất", "hoa nhãn", "bạc hà Mù Cang Chải"]),
    ("Chè Shan tuyết", ["cổ thụ Suối Giàng", "Nghĩa Tâm", "búp khô", "Khe Năm"]),
    ("Miến dong", ["Tân Hợp", "sợi nhỏ", "truyền thống"]),
    ("Quế", ["vỏ cuộn Văn Yên", "tinh dầu", "thanh"]),
    ("Gạo nếp", ["Tú Lệ", "tan Mường Lò", "cẩm"]),
    ("Thịt trâu", ["gác bếp", "sấy khô"]),
    ("Măng", ["tre Bát độ khô", "ớt", "chua"]),
    ("Rượu", ["ngô men lá", "táo mèo", "thóc"]),
]
DESCRIPTION_TEMPLATE = (
    "{name} được sản xuất theo cách truyền thống của đồng bào vùng cao, từ nguyên liệu trồng và thu hái "
    "tại địa phương. Sản phẩm đạt chứng nhận OCOP, được đóng gói cẩn thận, có tem truy xuất nguồn gốc và "
    "hướng dẫn bảo quản nơi khô ráo, thoáng mát. Hợp tác xã cam kết không dùng chất bảo quản, kiểm soát "
    "chất lượng từng lô hàng và giao hàng toàn quốc qua các sàn thương mại điện tử."
)


def load_coverage_benchmark():
    """benchmarks/coverage.py, loaded by its path: it builds the synthetic province. A plain
    `import coverage` would depend on sys.path order and could find the coverage.py package."""
    spec = importlib.util.spec_from_file_location("coverage_benchmark", ROOT / "benchmarks" / "coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- Environment ---------------------------------------------------------------------------------


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit(
            "wrk is not installed; it drives the load. Install it with:\n"
            "    apt-get install -y --no-install-recommends wrk\n"
            "(or build it from https://github.com/wg/wrk), then run this script again."
        )
    return wrk


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_environment(args, port: int, workdir: Path, media_root: Path) -> dict[str, str]:
    """What the production settings need, for this process and gunicorn alike."""
    from cryptography.fernet import Fernet

    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        # A prefix of its own on top of the database number: nothing else's keys are ever touched.
        "CACHE_KEY_PREFIX": "ocop-bench-showcase",
        "PUBLIC_PAGE_CACHE_SECONDS": "600",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "MARKETPLACE_TOKEN_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "BASE_URL": f"http://127.0.0.1:{port}",
        # Plain http on the loopback, no TLS proxy in front: the setting the production module
        # offers for this. Every other production default stays as deployed.
        "SECURE_SSL_REDIRECT": "0",
        "STATIC_ROOT": str(workdir / "static"),
        "MEDIA_ROOT": str(media_root),
        "OCOP_VAR_DIR": str(workdir / "var"),
        "LOG_LEVEL": "WARNING",
    }


def setup_django(environment: dict[str, str]) -> None:
    os.environ.update(environment)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def drop_database(database_url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(database_url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_exists(database_url: str) -> bool:
    import psycopg

    parts = urllib.parse.urlsplit(database_url)
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as connection:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        return connection.execute(query, [parts.path.lstrip("/")]).fetchone() is not None


def empty_redis_database(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def compiled_translations() -> None:
    """Production pages are in Vietnamese: without the compiled catalogue (a build product, see
    `make translations`) every page would render its English msgids, shorter than the real ones."""
    catalogue = ROOT / "locale" / "vi" / "LC_MESSAGES" / "django.po"
    compiled = catalogue.with_suffix(".mo")
    if not compiled.exists() or compiled.stat().st_mtime < catalogue.stat().st_mtime:
        import polib

        polib.pofile(str(catalogue)).save_as_mofile(str(compiled))
        print("Compiled the Vietnamese catalogue (as `make translations` does).")


# --- The synthetic province ------------------------------------------------------------------------


def build_showcase(args, rng: random.Random) -> None:
    """coverage.py's province, then what a showcase shows: every product approved, names and
    descriptions of real kinds, marketplace addresses on live listings, and the facts behind
    the home page's figures."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import F, Value
    from django.db.models.functions import Concat
    from django.utils import timezone

    from catalog.models import OcopCategory, Product
    from catalog.search import search_fields_for
    from marketplace_sync import facts
    from marketplace_sync.models import Listing

    coverage_benchmark = load_coverage_benchmark()
    call_command("migrate", verbosity=0)
    province = coverage_benchmark.build_province(
        argparse.Namespace(products=args.products, cooperatives=args.cooperatives, listings=args.listings), rng
    )
    categories = OcopCategory.objects.in_bulk()
    now = timezone.now()
    products = province["products"]
    for index, product in enumerate(products):
        kind, variants = PRODUCT_KINDS[index % len(PRODUCT_KINDS)]
        product.name = f"{kind} {rng.choice(variants)} {coverage_benchmark.SYNTHETIC} số {index:05d}"
        product.description = DESCRIPTION_TEMPLATE.format(name=product.name)
        product.weight_grams = rng.choice((250, 500, 1000))
        product.live = True  # the showcase shows approved products only; all of them are
        product.first_published_at = product.last_published_at = now
        for field, value in search_fields_for(product, category=categories.get(product.category_id)).items():
            setattr(product, field, value)
    Product.objects.bulk_update(
        products,
        ["name", "description", "weight_grams", "live", "first_published_at", "last_published_at",
         "search_name", "search_text"],
        batch_size=1000,
    )  # fmt: skip
    # coverage.py leaves marketplace addresses empty; the showcase's "Buy on …" links and its
    # channel filter only count live listings that have one.
    Listing.objects.filter(reported_state=Listing.Reported.LIVE).update(
        external_url=Concat(Value("https://marketplace.invalid/item/"), F("external_id"))
    )
    facts.product_facts_refresh()
    sampled_product_take_through_review(province["officer"])
    with connection.cursor() as cursor:  # what autovacuum does after a bulk change
        cursor.execute("VACUUM ANALYZE")


def sampled_product_take_through_review(officer) -> None:
    """The measured product page: a product with a valid certificate and a live listing gets
    three photos and is approved through the workflow, as a cooperative and an officer would."""
    import datetime

    from dateutil.relativedelta import relativedelta
    from django.utils import timezone

    from catalog import demo, services
    from catalog.models import CERTIFICATE_VALIDITY_MONTHS, Product
    from marketplace_sync.models import Listing

    recent = timezone.localdate() - relativedelta(months=CERTIFICATE_VALIDITY_MONTHS) + datetime.timedelta(days=60)
    product = (
        Product.objects.filter(
            certificates__decision_date__gte=recent,
            certificates__verified_at__isnull=False,
            listings__reported_state=Listing.Reported.LIVE,
        )
        .order_by("pk")
        .first()
    )
    for index, colour in enumerate(((122, 88, 40), (60, 110, 60), (150, 60, 40)), start=1):
        services.product_add_photo(
            product=product, user=officer, upload=demo.placeholder_photo(product.name, colour, index)
        )
    services.product_submit_for_review(product=product, user=officer)
    product.refresh_from_db()
    task_state = product.current_workflow_state.current_task_state.specific
    task_state.task.specific.on_action(task_state, officer, "approve")


def sampled_product_id() -> int:
    from catalog.models import Product

    product = Product.objects.filter(live=True, images__isnull=False).order_by("pk").first()
    if product is None:
        raise SystemExit("No approved product with photos in the database: run without --reuse to rebuild it.")
    return product.pk


def showcase_urls(product_id: int) -> dict[str, str]:
    from cms.models import ProductIndexPage

    index = ProductIndexPage.objects.live().first()
    list_path = index.get_url()
    return {
        "home": "/",
        "product list": list_path,
        "product page": list_path + index.reverse_subpage("product_detail", args=[product_id]).lstrip("/"),
        "search": SEARCH_PATH,
    }


def query_counts(urls: dict[str, str]) -> dict[str, int]:
    """SQL queries of each page rendered afresh (the cost behind a page-cache miss)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies.load(BYPASS_CACHE_COOKIE)
    counts = {}
    for label, path in urls.items():
        client.get(path)  # the first request of a process fills Wagtail's site and rendition caches
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code} in the test client")
        counts[label] = len(captured)
    return counts


# --- HTTP and the server -----------------------------------------------------------------------


@dataclasses.dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes
    wire_bytes: int


def fetch(port: int, path: str, *, cookie: str = "", accept_encoding: str = "gzip, deflate, br") -> Fetched:
    """One GET over a raw socket, so the byte count is exactly what crossed the wire."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", f"Accept-Encoding: {accept_encoding}", "Connection: close"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    with socket.create_connection(("127.0.0.1", port), timeout=120) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = bytearray()
        while chunk := connection.recv(65536):
            received += chunk
    head, _blank, body = bytes(received).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _colon, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        raise SystemExit(f"{path}: chunked responses are not expected from this app")
    return Fetched(int(status_line.split()[1]), headers, body, len(received))


def decoded_body(fetched: Fetched) -> bytes:
    encoding = fetched.headers.get("content-encoding", "identity")
    if encoding == "gzip":
        return gzip.decompress(fetched.body)
    if encoding == "identity":
        return fetched.body
    raise SystemExit(f"cannot read a body sent with {encoding}")


def start_gunicorn(port: int, workers: int, environment: dict[str, str], log_path: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
        "--log-level", "warning", "--error-logfile", str(log_path),
    ]  # fmt: skip
    # A session of its own, so stopping the server's process group never reaches this script.
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **environment}, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}; see {log_path}:\n{log_path.read_text()}")
        try:
            if fetch(port, TRIVIAL_PATH).status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer within 60 s; see {log_path}")


def stop_gunicorn(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


# --- wrk -------------------------------------------------------------------------------------------

# wrk's --latency prints the 50th, 75th, 90th and 99th percentiles only; the target is on the 95th.
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "OCOP_RESULT requests=%.0f duration_us=%.0f p50_us=%.0f p95_us=%.0f p99_us=%.0f"
    .. " connect=%.0f read=%.0f write=%.0f status=%.0f timeout=%.0f\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclasses.dataclass
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    errors: int


def run_wrk(wrk: str, lua: Path, url: str, *, seconds: int, args, cookie: str) -> LoadResult:
    command = [
        wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s",
        # A slow page must be counted in the latency, not dropped as a timeout after wrk's 2 s.
        "--timeout", "30s", "-s", str(lua),
    ]  # fmt: skip
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    finished = subprocess.run([*command, url], capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(f"wrk failed on {url}:\n{finished.stdout}{finished.stderr}")
    output = finished.stdout
    match = re.search(r"^OCOP_RESULT (.*)$", output, re.MULTILINE)
    if not match:
        raise SystemExit(f"wrk printed no result for {url}:\n{output}")
    values = {key: float(value) for key, value in (pair.split("=") for pair in match.group(1).split())}
    errors = sum(values[key] for key in ("connect", "read", "write", "status", "timeout"))
    if not values["requests"]:  # nothing finished within the run: no latency to report, only "too slow"
        return LoadResult(0.0, float("inf"), float("inf"), int(errors))
    return LoadResult(
        requests_per_second=values["requests"] / (values["duration_us"] / 1e6),
        p50_ms=values["p50_us"] / 1000,
        p95_ms=values["p95_us"] / 1000,
        errors=int(errors),
    )


# --- Page weight -----------------------------------------------------------------------------------


def product_page_weight(port: int, path: str) -> str:
    """What a browser transfers for the product page before any image: the HTML and the
    stylesheets and scripts it links, each as the server sends it to a browser."""
    page = fetch(port, path)
    html = decoded_body(page)
    linked = re.findall(rb'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', html)
    linked += re.findall(rb'<script[^>]+src="([^"]+)"', html)
    assets = [fetch(port, href.decode()) for href in linked]
    total_kb = (page.wire_bytes + sum(asset.wire_bytes for asset in assets)) / 1024
    verdict = "PASS" if total_kb <= PRODUCT_OWNER_TARGET_PAGE_KB else "MISS"
    encoding = page.headers.get("content-encoding", "identity")
    assets_text = ", ".join(
        f"{href.decode()} {asset.wire_bytes / 1024:.1f} KB ({asset.headers.get('content-encoding', 'identity')})"
        for href, asset in zip(linked, assets, strict=True)
    )
    return (
        f"Product page without images: {total_kb:.1f} KB transferred (target ≤ {PRODUCT_OWNER_TARGET_PAGE_KB} KB) "
        f"{verdict}\n  HTML {page.wire_bytes / 1024:.1f} KB as sent ({encoding}; {len(html) / 1024:.1f} KB raw, "
        f"{len(gzip.compress(html)) / 1024:.1f} KB if gzipped); {assets_text or 'no stylesheet or script'}"
    )


# --- The run ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    label: str
    cached: bool
    result: LoadResult
    cache_header: str
    queries: int | None


def measure(wrk: str, lua: Path, port: int, urls: dict[str, str], args, *, cached: bool) -> list[Row]:
    cookie = "" if cached else BYPASS_CACHE_COOKIE
    rows = []
    for label, path in {"trivial view": TRIVIAL_PATH, **urls}.items():
        url = f"http://127.0.0.1:{port}{path}"
        if args.warmup:
            run_wrk(wrk, lua, url, seconds=args.warmup, args=args, cookie=cookie)
        result = run_wrk(wrk, lua, url, seconds=args.duration, args=args, cookie=cookie)
        # Proves what the rows claim: a warm cache answers "hit", a cookie makes the page render.
        cache_header = fetch(port, path, cookie=cookie).headers.get("x-public-cache", "-")
        rows.append(Row(label, cached, result, cache_header, None))
        print(f"  measured {label:<13} {'cached' if cached else 'uncached'}: {result.requests_per_second:,.0f} req/s")
    return rows


def verdict(row: Row, ceiling: float) -> tuple[str, str]:
    ratio = row.result.requests_per_second / ceiling
    if row.cached and row.label in ("product list", "product page"):
        target = f"≥{PRODUCT_OWNER_TARGET_RATIO:.2f}×, p95<{PRODUCT_OWNER_TARGET_P95_MS}"
        passed = ratio >= PRODUCT_OWNER_TARGET_RATIO and row.result.p95_ms < PRODUCT_OWNER_TARGET_P95_MS
        return target, "PASS" if passed else "MISS"
    if not row.cached and row.label in ("product list", "search"):
        target = f"≥{PERFORMANCE_DOC_UNCACHED_RATIO:.2f}×, ≤{PERFORMANCE_DOC_MAX_QUERIES} q (perf.md)"
        passed = ratio >= PERFORMANCE_DOC_UNCACHED_RATIO and (row.queries or 0) <= PERFORMANCE_DOC_MAX_QUERIES
        return target, "PASS" if passed else "MISS"
    return "—", ""


def print_table(rows: list[Row], products: int) -> None:
    ceiling = max(row.result.requests_per_second for row in rows if row.label == "trivial view")
    header = (
        f"{'page':<13} {'cache':<9} {'products':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'× trivial':>9} "
        f"{'SQL q':>5} {'X-Public-Cache':>14} {'errors':>6}  {'target':<30} result"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for row in rows:
        target, result = verdict(row, ceiling)
        queries = "-" if row.queries is None else str(row.queries)
        print(
            f"{row.label:<13} {'warm' if row.cached else 'bypassed':<9} {products:>8,} "
            f"{row.result.requests_per_second:>7,.0f} {row.result.p50_ms:>7.1f} {row.result.p95_ms:>7.1f} "
            f"{row.result.requests_per_second / ceiling:>9.3f} {queries:>5} {row.cache_header:>14} "
            f"{row.result.errors:>6}  {target:<30} {result}"
        )
    print(f"× trivial: share of the fastest trivial-view rate ({ceiling:,.0f} req/s).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--cooperatives", type=int, default=3_000)
    parser.add_argument("--listings", type=int, default=40_000)
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per URL")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of load per URL before measuring")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    # gunicorn's own advice for sync workers: (2 × cores) + 1.
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--reuse", action="store_true", help="reuse the database if built, and keep it")
    parser.add_argument("--skip-uncached", action="store_true", help="measure with the page cache warm only")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/ocop_bench_showcase")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    wrk = require_wrk()
    started = time.perf_counter()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ocop-showcase-load-") as temporary:
        workdir = Path(temporary)
        media_root = KEPT_MEDIA if args.reuse else workdir / "media"
        environment = production_environment(args, port, workdir, media_root)
        reuse_database = args.reuse and database_exists(args.database_url)
        if not reuse_database:
            load_coverage_benchmark().ensure_database(args.database_url)
        server = None
        try:
            setup_django(environment)
            empty_redis_database(args.redis_url)
            from django.core.management import call_command
            from django.db import connections

            from catalog.models import Product

            if not reuse_database or not Product.objects.filter(live=True).exists():
                build_showcase(args, random.Random(args.seed))
            products = Product.objects.filter(live=True).count()
            print(f"{products:,} approved products ready after {time.perf_counter() - started:.0f} s")
            compiled_translations()
            call_command("collectstatic", interactive=False, verbosity=0)
            urls = showcase_urls(sampled_product_id())

            server = start_gunicorn(port, args.workers, environment, workdir / "gunicorn.log")
            for label, path in urls.items():  # also makes the product page's renditions
                status = fetch(port, path).status
                if status != 200:
                    raise SystemExit(f"{label} {path} answered {status}, not 200")
            queries = query_counts(urls)
            connections.close_all()  # this process stays idle while gunicorn is measured
            print(
                f"gunicorn {args.workers} sync workers on 127.0.0.1:{port}, DJANGO_SETTINGS_MODULE=config.settings."
                f"production, PostgreSQL {urllib.parse.urlsplit(args.database_url).path.lstrip('/')}, Redis cache "
                f"{args.redis_url} (PUBLIC_PAGE_CACHE_SECONDS=600), SECURE_SSL_REDIRECT=0; "
                f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s after a {args.warmup} s warm-up; "
                f"load average before: {os.getloadavg()[0]:.1f}\n"
                + "\n".join(f"  {label:<13} {path}" for label, path in urls.items())
            )
            with tempfile.NamedTemporaryFile("w", suffix=".lua", dir=workdir, delete=False) as lua_file:
                lua_file.write(WRK_REPORT)
            lua = Path(lua_file.name)
            rows = measure(wrk, lua, port, urls, args, cached=True)
            if not args.skip_uncached:
                rows += measure(wrk, lua, port, urls, args, cached=False)
            for row in rows:
                row.queries = 0 if row.label == "trivial view" else queries[row.label]
            print_table(rows, products)
            # Other work on the machine moves absolute rates; the ratios within one run hold better.
            print("Load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.1f}" for load in os.getloadavg()))
            print(product_page_weight(port, urls["product page"]))
        finally:
            if server is not None:
                stop_gunicorn(server)
            if "django" in sys.modules:
                from django.db import connections

                connections.close_all()
            empty_redis_database(args.redis_url)
            if not args.reuse:
                drop_database(args.database_url)
    print(f"Done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
