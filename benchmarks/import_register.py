"""Benchmark of the OCOP register import (catalog.register) on synthetic registers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ocop_bench .venv/bin/python benchmarks/import_register.py \
        [--rows 5000 20000] [--formats xlsx csv]

The database is disposable: it is created if missing, migrated, loaded with the real reference
data (administrative units, OCOP classification), and its products and cooperatives are deleted
before each measurement. Without DATABASE_URL a throw-away SQLite file in the temp folder is
used, never the demo database.

Every generated name is marked "[TỔNG HỢP]" (synthetic): the rows use real commune codes and
real OCOP product sets so that every lookup the import does is exercised, but no product,
producer or tax code in them exists. About one cooperative per seven products.

Each size and format is measured in fresh subprocesses so that peaks are comparable:
- a timing run: the spreadsheet parse floor (openpyxl read-only / csv.reader, values only, no
  checks), check_register, import_register (which checks again, then saves in one transaction)
  and a second import of the same file (nothing changes), with the growth of the process's peak
  resident memory (ru_maxrss) over its state before the first check;
- a memory run: one import_register under tracemalloc (peak of Python allocations). It is kept
  apart because tracemalloc slows Python down several times.

The target (docs/register-format.md, shared/docs/performance.md): 20,000 rows imported into
PostgreSQL in ≤ 60 s on the 2-core machine, within 3× the parse floor, memory flat in file size.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNTHETIC = "[TỔNG HỢP]"
PRODUCTS_PER_COOPERATIVE = 7
CHILD_TIMEOUT_SECONDS = 1800

HEADERS = [
    "Mã sổ đăng ký",
    "Tên sản phẩm",
    "Chủ thể",
    "Loại hình chủ thể",
    "Mã số thuế",
    "Địa chỉ chủ thể",
    "Huyện",
    "Xã",
    "Mã xã",
    "Mã xã 2025",
    "Số sao",
    "Nhóm sản phẩm",
    "Bộ sản phẩm",
    "Số quyết định",
    "Cơ quan cấp",
    "Ngày quyết định",
    "Năm công nhận",
    "Ngày hết hạn",
    "Loại đánh giá",
    "Nguồn",
    "Căn cứ",
    "Ghi chú",
]
PRODUCT_WORDS = [
    "Chè Shan tuyết cổ thụ",
    "Mật ong bạc hà",
    "Quế hồi sấy khô",
    "Miến đao",
    "Gạo nếp Tú Lệ",
    "Thịt trâu gác bếp",
    "Măng tre Bát Độ",
    "Bưởi đặc sản",
    "Tinh dầu quế",
    "Rượu ngô men lá",
    "Táo mèo ngâm",
    "Cao xương dược liệu",
]
PLACE_WORDS = ["Suối Giàng", "Nghĩa Lộ", "Mù Cang Chải", "Trạm Tấu", "Văn Chấn", "Lục Yên", "Đại Phác", "Khánh Hòa"]
KINDS = ["Hợp tác xã", "HTX", "Doanh nghiệp", "Công ty", "Tổ hợp tác", "Hộ kinh doanh", ""]
COOP_PREFIX = {"Hợp tác xã": "HTX", "HTX": "HTX", "Doanh nghiệp": "Công ty TNHH", "Công ty": "Công ty CP"}
RATING_KINDS = ["Đánh giá lần đầu", "Đánh giá lại", "Nâng hạng", ""]
TAX_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)


# --- Synthetic register (parent process; no Django needed) ------------------------------------


def _tax_code(index: int) -> str:
    """A tax code with a valid check digit (cooperatives.validators) in ranges nobody uses: 5299…,
    else 5298… when no check digit exists for it (each index still gets its own code)."""
    for prefix in ("5299", "5298", "5297"):
        first_nine = f"{prefix}{index:05d}"
        check = 10 - sum(int(d) * w for d, w in zip(first_nine, TAX_WEIGHTS, strict=True)) % 11
        if check != 10:
            return first_nine + str(check)
    raise ValueError(index)


def _communes() -> list[tuple[str, str, str, str]]:
    """(district, commune, pre-2025 code, 2025 code) for Yên Bái communes with one successor."""
    found = []
    with open(ROOT / "data" / "yenbai_admin_units_pre2025.csv", encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            codes = [code for code in row["new_2025_07_commune_codes"].replace(";", " ").split() if code]
            if row["existed_2025h1"] == "Y" and len(codes) == 1:
                found.append((row["district_name"], row["commune_name"], row["commune_code"], codes[0]))
    return found


def _categories() -> list[tuple[str, str]]:
    """(group, product set) of the current OCOP scheme."""
    with open(ROOT / "data" / "ocop_product_taxonomy.csv", encoding="utf-8-sig", newline="") as handle:
        return [
            (row["nganh"], row["phan_nhom_or_bo_san_pham"])
            for row in csv.DictReader(handle)
            if row["scheme"].startswith("QD148")
        ]


def synthetic_rows(count: int, seed: int = 2025):
    rng = random.Random(seed)
    communes, categories = _communes(), _categories()
    cooperatives = []
    for index in range(max(1, count // PRODUCTS_PER_COOPERATIVE)):
        kind = rng.choice(KINDS)
        district, commune, code, code_2025 = rng.choice(communes)
        prefix = COOP_PREFIX.get(kind, "Cơ sở")
        tax = _tax_code(index) if kind in COOP_PREFIX and rng.random() < 0.7 else ""
        name = f"{SYNTHETIC} {prefix} {rng.choice(PRODUCT_WORDS).split()[0]} {rng.choice(PLACE_WORDS)} {index:05d}"
        cooperatives.append((name, kind, tax, district, commune, code, code_2025))
    today = datetime.date.today()
    for number in range(1, count + 1):
        name, kind, tax, district, commune, code, code_2025 = cooperatives[(number - 1) % len(cooperatives)]
        group, subgroup = rng.choice(categories)
        year = rng.randint(2019, min(2024, today.year))
        decision_date = datetime.date(year, rng.randint(1, 12), rng.randint(1, 28))
        with_date = rng.random() < 0.8
        stars = rng.choice(["3", "3", "4", "4", "5", ""])
        yield {
            "Mã sổ đăng ký": f"TH-{number:06d}",
            "Tên sản phẩm": f"{SYNTHETIC} {rng.choice(PRODUCT_WORDS)} {rng.choice(PLACE_WORDS)} {number:06d}",
            "Chủ thể": name if number % 23 else "",  # a few products without a named producer
            "Loại hình chủ thể": kind if number % 23 else "",
            "Mã số thuế": tax if number % 23 else "",
            "Địa chỉ chủ thể": f"Thôn {number % 17 + 1}, {commune}, {district}",
            "Huyện": district,
            "Xã": commune,
            "Mã xã": code,
            "Mã xã 2025": code_2025 if number % 3 else "",
            "Số sao": stars,
            "Nhóm sản phẩm": group,
            "Bộ sản phẩm": subgroup,
            "Số quyết định": f"{1000 + number // 40}/QĐ-UBND",
            "Cơ quan cấp": "UBND tỉnh Yên Bái (dữ liệu tổng hợp)",
            "Ngày quyết định": decision_date if with_date else None,
            "Năm công nhận": year,
            "Ngày hết hạn": None,
            "Loại đánh giá": rng.choice(RATING_KINDS),
            "Nguồn": f"https://example.invalid/ocop/{number}",
            "Căn cứ": f"Quyết định số {1000 + number // 40}/QĐ-UBND — dữ liệu tổng hợp để đo hiệu năng",
            "Ghi chú": "Dữ liệu tổng hợp, không phải sản phẩm thật" if number % 5 == 0 else "",
        }


def write_register(directory: Path, rows: int) -> dict[str, Path]:
    from openpyxl import Workbook

    xlsx, csv_path = directory / f"so-dang-ky-{rows}.xlsx", directory / f"so-dang-ky-{rows}.csv"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Sổ đăng ký OCOP")
    sheet.append(HEADERS)
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for row in synthetic_rows(rows):
            values = [row[header] for header in HEADERS]
            sheet.append(values)  # dates as real Excel date cells
            writer.writerow([v.strftime("%d/%m/%Y") if isinstance(v, datetime.date) else v for v in values])
    workbook.save(xlsx)
    return {"xlsx": xlsx, "csv": csv_path}


# --- Django, database ----------------------------------------------------------------------------


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    # The test settings: DEBUG off (with DEBUG on Django keeps every query in memory).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_postgres_database(database_url: str) -> None:
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(database_url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        return
    params = {
        "dbname": "postgres",
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{config["NAME"]}"')


def prepare_database() -> None:
    from django.core.management import call_command

    from catalog.taxonomy import load_ocop_taxonomy
    from cooperatives.units import load_administrative_units

    call_command("migrate", verbosity=0, interactive=False)
    load_administrative_units()
    load_ocop_taxonomy()


def empty_catalog() -> None:
    """Start each measurement from no products and no cooperatives (the database is disposable)."""
    from catalog.models import Certificate, Offer, Product, RegisterEntry
    from cooperatives.models import Cooperative

    for model in (Certificate, Offer, RegisterEntry, Product, Cooperative):
        queryset = model.objects.all()
        queryset._raw_delete(queryset.db)


# --- Child processes ------------------------------------------------------------------------------


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def parse_floor(path: Path) -> float:
    """Reading every cell and nothing else: what no import can beat."""
    started = time.perf_counter()
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        for _row in workbook.worksheets[0].iter_rows(values_only=True):
            pass
        workbook.close()
    else:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for _row in csv.reader(handle):
                pass
    return time.perf_counter() - started


def child_timing(path: Path) -> dict:
    from catalog.models import Product
    from catalog.register import check_register, import_register

    empty_catalog()
    floor = parse_floor(path)
    baseline = _max_rss_mb()
    started = time.perf_counter()
    report = check_register(path, filename=path.name)
    check_seconds = time.perf_counter() - started
    if not report.is_valid:
        return {"error": [problem.as_dict() for problem in report.errors[:5]]}
    started = time.perf_counter()
    result = import_register(path, filename=path.name)
    import_seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = import_register(path, filename=path.name)
    reimport_seconds = time.perf_counter() - started
    return {
        "rows": report.total_rows,
        "saved": result.saved,
        "products": Product.objects.count(),
        "cooperatives": result.report.new_cooperatives,
        "unchanged_on_reimport": again.report.unchanged_products,
        "floor_s": floor,
        "check_s": check_seconds,
        "import_s": import_seconds,
        "reimport_s": reimport_seconds,
        "rss_growth_mb": _max_rss_mb() - baseline,
        "rss_peak_mb": _max_rss_mb(),
    }


def child_memory(path: Path) -> dict:
    from catalog.register import import_register

    empty_catalog()
    tracemalloc.start()
    result = import_register(path, filename=path.name)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"saved": result.saved, "tracemalloc_peak_mb": peak / 1024 / 1024}


def run_child(mode: str, path: Path, database_url: str) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--file", str(path), "--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_SECONDS,
        cwd=ROOT,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{mode} run on {path.name} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- Main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--formats", nargs="+", choices=["xlsx", "csv"], default=["xlsx", "csv"])
    parser.add_argument("--child", choices=["timing", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        setup_django(args.database_url)
        result = child_timing(args.file) if args.child == "timing" else child_memory(args.file)
        print(json.dumps(result))
        return

    directory = Path(tempfile.mkdtemp(prefix="ocop-register-bench-"))
    try:
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{directory / 'bench.sqlite3'}"
        ensure_postgres_database(database_url)
        setup_django(database_url)
        prepare_database()
        from django.db import connection

        print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']}); CPUs: {os.cpu_count()}")
        print(
            f"{'rows':>7} {'format':>6} {'size MB':>8} {'floor s':>8} {'check s':>8} {'import s':>9} "
            f"{'rows/s':>7} {'×floor':>7} {'re-import s':>11} {'tracemalloc MB':>15} {'ΔmaxRSS MB':>11}"
        )
        for rows in args.rows:
            files = write_register(directory, rows)
            for kind in args.formats:
                path = files[kind]
                timing = run_child("timing", path, database_url)
                if "error" in timing:
                    raise SystemExit(f"The synthetic register has errors: {timing['error']}")
                memory = run_child("memory", path, database_url)
                assert timing["saved"] and memory["saved"] and timing["products"] == rows
                assert timing["unchanged_on_reimport"] == rows
                print(
                    f"{rows:>7} {kind:>6} {path.stat().st_size / 1e6:>8.1f} {timing['floor_s']:>8.2f} "
                    f"{timing['check_s']:>8.2f} {timing['import_s']:>9.2f} {rows / timing['import_s']:>7.0f} "
                    f"{timing['import_s'] / timing['floor_s']:>7.1f} {timing['reimport_s']:>11.2f} "
                    f"{memory['tracemalloc_peak_mb']:>15.1f} {timing['rss_growth_mb']:>11.1f}",
                    flush=True,
                )
            for path in files.values():
                path.unlink()
        print(
            "import s = check + save in one transaction (the file is read twice); rows/s = rows / import s; "
            "×floor = import s / parse floor; re-import = the same file again (nothing changes)."
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
