"""Import of the province's OCOP register (sổ theo dõi sản phẩm OCOP) from CSV or XLSX.

The trade department keeps its register in a spreadsheet. Importing it turns every row into a
draft product (with an empty offer, the register's own facts and a verified certificate) and
every producer into a cooperative, which the cooperatives then complete. The file format is
documented for officers in docs/register-format.md; the column list below is its single source.

What officers and other platforms taught us (shared/docs/design.md §5) shapes the code:

- **Check everything before saving anything.** `check_register` reads the whole file and lists
  every row's problems, naming the row as Excel numbers it and the column as the file names it.
  `import_register` saves only when the check found no error, and then in one transaction.
- **A bad value is never turned into 0 or blank.** An unreadable star rating, year, date or code
  is an error; an empty cell means "unknown" and never erases what is already known.
- **Re-importing is safe.** A row finds its product again through its register code, or through
  its decision number and product name; identical rows change nothing at all (no write, no new
  timestamp, no revision). Approved content is never overwritten: the difference is reported.
- **Memory stays flat.** The file is streamed twice (check, then import) and never held in memory;
  rows are handled 500 at a time with bulk queries. What does grow is bounded by the number of
  distinct cooperatives, communes and categories, plus one small dict entry per row to find
  duplicate rows (that check cannot be done without remembering the keys already seen).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import functools
import io
import logging
import re
import sqlite3
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from cooperatives.models import AdministrativeUnit, Cooperative
from cooperatives.selectors import current_unit_for, find_commune_by_code
from cooperatives.text import clean_text, match_key
from cooperatives.validators import is_personal_id_number, normalise_tax_code, validate_tax_code

from .models import Certificate, OcopCategory, Offer, Product, RegisterEntry, RegisterImport
from .search import search_fields_for
from .taxonomy import CategoryMatcher

logger = logging.getLogger(__name__)

BATCH_SIZE = 500  # rows planned and written together; also how often progress is reported
MAX_PROBLEMS_KEPT = 10_000  # per list in a CheckReport; every problem is still counted
MAX_STORED_ERRORS = 5_000  # in RegisterImport.errors (a JSON column shown in the admin)
MAX_STORED_WARNINGS = 1_000
HEADER_SEARCH_ROWS = 10  # a title row or two above the header is common in officers' files
FIRST_OCOP_YEAR = 2018  # the OCOP programme's first certificates (QĐ 490/QĐ-TTg, 2018)
# The 1 July 2025 reform re-used commune codes: a code written on a certificate issued before it
# is looked up as it was on the reform's eve.
LAST_PRE_REFORM_DAY = datetime.date(2025, 6, 30)
PROGRESS_EVERY = BATCH_SIZE


# --- The file format ------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the Vietnamese header of the template
    aliases: tuple[str, ...] = ()  # English names of data/yenbai_ocop_products.csv and common variants
    required: bool = False
    help: str = ""  # Vietnamese, for the template's instructions sheet


COLUMNS: tuple[Column, ...] = (
    Column(
        "register_code",
        "Mã sổ đăng ký",
        ("id", "register_code", "Mã đăng ký", "Mã sổ"),
        help="Mã của sản phẩm trong sổ theo dõi của Sở. Không trùng trong tệp. Cần Mã sổ hoặc Số quyết định.",
    ),
    Column(
        "product_name",
        "Tên sản phẩm",
        ("name_vi", "product_name", "Tên SP", "Tên sản phẩm OCOP"),
        required=True,
        help="Bắt buộc. Tối đa 255 ký tự.",
    ),
    Column(
        "producer_name",
        "Chủ thể",
        ("subject_name", "producer_name", "Tên chủ thể", "Chủ thể OCOP", "Chủ thể sản xuất"),
        help="Tên HTX, doanh nghiệp, tổ hợp tác hoặc hộ kinh doanh. Để trống nếu chưa rõ.",
    ),
    Column(
        "producer_kind",
        "Loại hình chủ thể",
        ("subject_type", "producer_kind", "Loại hình"),
        help="Hợp tác xã (HTX), Doanh nghiệp (DN, Công ty), Tổ hợp tác (THT) hoặc Hộ kinh doanh (HKD).",
    ),
    Column(
        "tax_code",
        "Mã số thuế",
        ("tax_code", "MST", "Mã số thuế chủ thể"),
        help="10 chữ số (13 với chi nhánh, ví dụ 5200123456-001); hộ kinh doanh: số định danh 12 chữ số.",
    ),
    Column(
        "producer_address",
        "Địa chỉ chủ thể",
        ("subject_address", "producer_address", "Địa chỉ"),
        help="Địa chỉ của chủ thể.",
    ),
    Column(
        "district_name",
        "Huyện",
        ("district", "district_name", "Huyện/thị xã/thành phố", "Huyện, thị xã, thành phố"),
        help="Huyện như ghi trong quyết định (lưu nguyên văn).",
    ),
    Column(
        "commune_name",
        "Xã",
        ("commune", "commune_name", "Xã/phường/thị trấn", "Xã, phường, thị trấn"),
        help="Xã như ghi trong quyết định (lưu nguyên văn).",
    ),
    Column(
        "commune_code",
        "Mã xã",
        ("commune_code_pre2025", "commune_code", "Mã xã trước 2025", "Mã xã cũ"),
        help="Mã xã của Cục Thống kê (5 chữ số) tại thời điểm công nhận, trước hoặc sau 1/7/2025.",
    ),
    Column(
        "commune_code_2025",
        "Mã xã 2025",
        ("commune_code_2025", "Mã xã mới", "Mã xã từ 1/7/2025"),
        help="Mã xã hiện nay (từ 1/7/2025). Nếu ghi cả hai mã, hai mã phải khớp nhau.",
    ),
    Column(
        "stars",
        "Số sao",
        ("stars", "Hạng sao", "Xếp hạng", "Sao"),
        help="3, 4 hoặc 5. Để trống nếu chưa rõ.",
    ),
    Column(
        "product_group",
        "Nhóm sản phẩm",
        ("product_group", "Ngành", "Ngành sản phẩm", "Nhóm ngành"),
        help="Ngành theo QĐ 148/QĐ-TTg, ví dụ Thực phẩm.",
    ),
    Column(
        "subgroup",
        "Bộ sản phẩm",
        ("subgroup", "Phân nhóm", "Bộ SP"),
        help="Bộ sản phẩm theo QĐ 148/QĐ-TTg, ví dụ Chè tươi, chế biến. Phải có trong danh mục.",
    ),
    Column(
        "decision_number",
        "Số quyết định",
        ("decision_number", "Số QĐ", "Quyết định công nhận"),
        help="Số quyết định công nhận, ví dụ 2585/QĐ-UBND.",
    ),
    Column(
        "issuing_body",
        "Cơ quan cấp",
        ("issuing_body", "Cơ quan ban hành", "Đơn vị cấp"),
        help="Ví dụ UBND tỉnh Yên Bái.",
    ),
    Column(
        "decision_date",
        "Ngày quyết định",
        ("decision_date", "Ngày QĐ", "Ngày công nhận", "Ngày cấp"),
        help="dd/mm/yyyy, yyyy-mm-dd hoặc ô kiểu ngày của Excel. Không được sau hôm nay.",
    ),
    Column(
        "certified_year",
        "Năm công nhận",
        ("certified_year", "Năm", "Năm đánh giá"),
        help="Từ 2018 đến năm nay. Nếu có Ngày quyết định thì phải cùng năm.",
    ),
    Column(
        "expires_on",
        "Ngày hết hạn",
        ("expires_on", "Hiệu lực đến", "Ngày hết hiệu lực"),
        help="Để trống: tự tính 36 tháng sau Ngày quyết định. Phải sau Ngày quyết định.",
    ),
    Column(
        "certificate_kind",
        "Loại đánh giá",
        ("certificate_kind", "rating_kind", "Hình thức đánh giá"),
        help="Đánh giá lần đầu, Đánh giá lại hoặc Nâng hạng.",
    ),
    Column(
        "source_url",
        "Nguồn",
        ("source_url", "source", "Nguồn tin", "Đường dẫn"),
        help="Nơi có thể kiểm tra thông tin (đường dẫn, văn bản).",
    ),
    Column(
        "evidence",
        "Căn cứ",
        ("decision_or_evidence", "evidence", "Căn cứ công nhận"),
        help="Căn cứ công nhận, ghi tự do; lưu nguyên văn.",
    ),
    Column("notes", "Ghi chú", ("notes", "note"), help="Ghi chú tự do."),
)
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}
_HEADER_KEYS: dict[str, str] = {}
for _column in COLUMNS:
    for _label in (_column.header, _column.key, *_column.aliases):
        _HEADER_KEYS.setdefault(match_key(_label), _column.key)

# Legal forms as officers write them, folded with match_key.
_PRODUCER_KINDS = {
    Cooperative.Kind.COOPERATIVE: ("hop tac xa", "htx", "cooperative"),
    Cooperative.Kind.ENTERPRISE: (
        "doanh nghiep",
        "dn",
        "cong ty",
        "cty",
        "cong ty tnhh",
        "cong ty co phan",
        "ctcp",
        "doanh nghiep tu nhan",
        "dntn",
        "enterprise",
        "company",
    ),
    Cooperative.Kind.COOPERATIVE_GROUP: ("to hop tac", "tht", "cooperative group"),
    Cooperative.Kind.HOUSEHOLD: ("ho kinh doanh", "hkd", "ho kinh doanh ca the", "household", "household business"),
}
_PRODUCER_KIND_BY_KEY = {key: kind for kind, keys in _PRODUCER_KINDS.items() for key in keys}

_CERTIFICATE_KINDS = {
    Certificate.Kind.FIRST_RATING: ("lan dau", "lan dau tien", "moi", "dau", "first", "first rating"),
    Certificate.Kind.RE_RATING: ("lai", "tai danh gia", "re rating", "rerating"),
    Certificate.Kind.UPGRADE: ("nang hang", "nang sao", "nang hang sao", "upgrade"),
}
_CERTIFICATE_KIND_BY_KEY = {key: kind for kind, keys in _CERTIFICATE_KINDS.items() for key in keys}
_CERTIFICATE_KIND_PREFIXES = ("danh gia ", "cong nhan ", "xep hang ")

_STARS = re.compile(r"^([0-9]+)(?:[.,]0+)?\s*(?:sao|★+|\*+)?$", re.IGNORECASE)
_YEAR = re.compile(r"^([0-9]{4})(?:[.,]0+)?$")
_DMY = re.compile(r"^([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4})$")
_YMD = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T]00:00(?::00)?)?$")
_DIGITS = re.compile(r"^[0-9]+$")
# match_key for values that repeat from row to row (legal forms, rating kinds, decision
# numbers shared by a whole batch of products): folded once each.
_fold = functools.lru_cache(maxsize=4096)(match_key)
_UNDECODABLE = re.compile("[\udc80-\udcff]")
COMMUNE_CODE_LENGTH = 5


# --- Reports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    """One problem, located the way the officer sees the file: `row_number` is the row number
    Excel shows (the header is row 1 in the template) and `column_header` the header as written
    in the file (or the template's header when the column is missing)."""

    row_number: int
    column_header: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row_number, "column": self.column_header, "message": self.message}


@dataclass
class CheckReport:
    filename: str
    total_rows: int = 0
    new_products: int = 0
    updated_products: int = 0
    unchanged_products: int = 0
    new_cooperatives: int = 0
    updated_cooperatives: int = 0
    new_certificates: int = 0
    updated_certificates: int = 0
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    error_count: int = 0  # every error, also those beyond MAX_PROBLEMS_KEPT
    warning_count: int = 0
    invalid_rows: int = 0  # rows with at least one error
    file_error: bool = False  # the file itself could not be read (missing column, not UTF-8…)

    @property
    def is_valid(self) -> bool:
        return self.error_count == 0

    def add_error(self, row_number: int, column_header: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_PROBLEMS_KEPT:
            self.errors.append(RowProblem(row_number, column_header, message))

    def add_warning(self, row_number: int, column_header: str, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_PROBLEMS_KEPT:
            self.warnings.append(RowProblem(row_number, column_header, message))

    def summary(self) -> dict:
        return {
            "rows": self.total_rows,
            "new_products": self.new_products,
            "updated_products": self.updated_products,
            "unchanged_products": self.unchanged_products,
            "new_cooperatives": self.new_cooperatives,
            "updated_cooperatives": self.updated_cooperatives,
            "new_certificates": self.new_certificates,
            "updated_certificates": self.updated_certificates,
            "errors": self.error_count,
            "invalid_rows": self.invalid_rows,
            "warnings": self.warning_count,
        }


@dataclass
class ImportResult:
    """What `import_register` did. `report` is the import pass's own report when something was
    saved (its counts are what happened), else the check's report (its errors say why not)."""

    report: CheckReport
    saved: bool

    @property
    def is_valid(self) -> bool:
        return self.report.is_valid


class RegisterFileError(Exception):
    """The file as a whole cannot be read; `row_number` is where reading stopped."""

    def __init__(self, message: str, row_number: int = 1, column_header: str = ""):
        super().__init__(message)
        self.message = message
        self.row_number = row_number
        self.column_header = column_header


class _ImportAborted(Exception):
    """Raised inside the import transaction to roll it back (the second pass found an error)."""


Progress = Callable[[int, int], None]


# --- Reading the file ------------------------------------------------------------------------


@contextlib.contextmanager
def _binary(file):
    """A binary, seekable stream over `file` (a path, a Django File/FieldFile or a file object),
    rewound to the start. Files opened here are closed again; the caller's are left open."""
    if isinstance(file, (str, Path)):
        with open(file, "rb") as handle:
            yield handle
        return
    opened_here = False
    if hasattr(file, "storage") and file.closed:  # a FieldFile nobody opened
        file.open("rb")
        opened_here = True
    stream = file.file if hasattr(file, "storage") else file
    stream.seek(0)
    try:
        yield stream
    finally:
        if opened_here:
            file.close()


def _file_kind(filename: str) -> str:
    suffix = Path(filename or "").suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return "xlsx"
    if suffix in {".csv", ".txt", ".tsv"}:
        return "csv"
    if suffix == ".xls":
        raise RegisterFileError(
            _(
                "The file '%(name)s' is in the old Excel format (.xls). Open it in Excel and save it as "
                "'Excel Workbook (.xlsx)' or 'CSV UTF-8', then upload it again."
            )
            % {"name": filename}
        )
    raise RegisterFileError(
        _("The file '%(name)s' is not a spreadsheet we can read. Upload an .xlsx or .csv file.") % {"name": filename}
    )


def _sniff_delimiter(head: bytes) -> str:
    """`,`, `;` or tab, whichever the header line uses most outside quotes. Excel writes `;` in
    locales with a decimal comma, which Vietnamese Windows is; csv.Sniffer guesses badly on
    short files with commas inside quoted Vietnamese text."""
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff")
    counts = {",": 0, ";": 0, "\t": 0}
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            if any(counts.values()):
                break
        elif char in counts and not quoted:
            counts[char] += 1
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


class _Source:
    """The rows of a register file, streamed: `rows()` can be called again for a second pass."""

    def __init__(self, file, filename: str):
        self.file = file
        self.filename = filename
        self.kind = _file_kind(filename)
        self.estimated_rows: int | None = None  # physical rows, header included, when known

    def rows(self) -> Iterator[tuple[int, tuple]]:
        """(row number as Excel shows it, cell values) for every row, blank ones included."""
        with _binary(self.file) as stream:
            if self.kind == "xlsx":
                yield from self._xlsx_rows(stream)
            else:
                yield from self._csv_rows(stream)

    def _csv_rows(self, stream) -> Iterator[tuple[int, tuple]]:
        delimiter = _sniff_delimiter(stream.read(64 * 1024))
        stream.seek(0)
        if self.estimated_rows is None:
            self.estimated_rows = self._count_csv_rows(stream, delimiter)
            stream.seek(0)
        # Undecodable bytes become lone surrogates instead of an exception raised somewhere in an
        # 8 KB block, so the officer is told the exact row where the encoding goes wrong.
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
        number = 0
        try:
            for number, row in enumerate(csv.reader(text, delimiter=delimiter), start=1):
                if any(_UNDECODABLE.search(value) for value in row):
                    raise RegisterFileError(
                        _(
                            "The file is not saved as UTF-8, so its Vietnamese letters cannot be read (first in "
                            "row %(row)d). In Excel choose File › Save As › 'CSV UTF-8 (Comma delimited)', or "
                            "upload the .xlsx file."
                        )
                        % {"row": number},
                        row_number=number,
                    )
                yield number, row
        except csv.Error as error:
            raise RegisterFileError(
                _("Row %(row)d cannot be read as CSV (%(reason)s). Check the quotes in that row.")
                % {"row": number + 1, "reason": error},
                row_number=number + 1,
            ) from error
        finally:
            text.detach()  # leave the caller's stream open

    @staticmethod
    def _count_csv_rows(stream, delimiter: str) -> int | None:
        """Rows in the file, for progress: a CSV pass costs milliseconds (performance.md)."""
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        try:
            return sum(1 for _row in csv.reader(text, delimiter=delimiter))
        except csv.Error:
            return None
        finally:
            text.detach()

    def _xlsx_rows(self, stream) -> Iterator[tuple[int, tuple]]:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            # read_only streams the sheet (flat memory); data_only gives a formula's last value.
            workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
            raise RegisterFileError(
                _(
                    "The file cannot be opened as an Excel workbook (.xlsx): it may be damaged or be another "
                    "kind of file. Open it in Excel, save it again as .xlsx and upload it again."
                )
            ) from error
        try:
            if not workbook.worksheets:
                raise RegisterFileError(_("The workbook has no sheet. Put the register on the first sheet."))
            sheet = workbook.worksheets[0]
            if self.estimated_rows is None:
                self.estimated_rows = sheet.max_row  # from the sheet's stored dimension; may be absent
            # Files written by some tools declare a wrong dimension, which would cut rows or columns.
            sheet.reset_dimensions()
            expected = 1
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                expected = number
                yield number, row
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
            raise RegisterFileError(
                _("The Excel file is damaged from row %(row)d on. Save it again in Excel and upload it again.")
                % {"row": expected + 1},
                row_number=expected + 1,
            ) from error
        finally:
            workbook.close()


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass
class _Header:
    row_number: int
    positions: dict[str, int]  # column key → index in the row
    labels: dict[str, str]  # column key → header as written in the file

    def label(self, key: str) -> str:
        return self.labels.get(key) or COLUMNS_BY_KEY[key].header


def _read_header(rows: Iterator[tuple[int, tuple]], report: CheckReport) -> _Header | None:
    """Find the header among the first rows and map its cells to column keys. A missing
    required column is a file error; an unknown column is a warning, reported once."""
    first_number = None
    for number, cells in rows:
        first_number = first_number or number
        keys = [_HEADER_KEYS.get(_fold(_cell_text(cell))) for cell in cells]
        if "product_name" in keys or (sum(1 for key in keys if key) >= 3):
            return _map_header(number, cells, keys, report)
        if number - first_number + 1 >= HEADER_SEARCH_ROWS:
            break
    report.file_error = True
    report.add_error(
        first_number or 1,
        COLUMNS_BY_KEY["product_name"].header,
        _(
            "No header row was found: the first rows must name the columns, with at least the column "
            "'%(column)s'. Download the template to see the expected headers."
        )
        % {"column": COLUMNS_BY_KEY["product_name"].header},
    )
    return None


def _map_header(number: int, cells: tuple, keys: list, report: CheckReport) -> _Header | None:
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    ok = True
    for index, (cell, key) in enumerate(zip(cells, keys, strict=True)):
        label = _cell_text(cell)
        if not label:
            continue
        if key is None:
            report.add_warning(
                number,
                label,
                _("The column '%(column)s' is not a register column and is ignored.") % {"column": label},
            )
            continue
        if key in positions:
            ok = False
            report.file_error = True
            report.add_error(
                number,
                label,
                _("The columns '%(first)s' and '%(second)s' both mean '%(meaning)s'. Keep only one of them.")
                % {"first": labels[key], "second": label, "meaning": COLUMNS_BY_KEY[key].header},
            )
            continue
        positions[key] = index
        labels[key] = label
    for column in COLUMNS:
        if column.required and column.key not in positions:
            ok = False
            report.file_error = True
            report.add_error(
                number,
                column.header,
                _("The required column '%(column)s' is missing. Add it (see the template) and upload again.")
                % {"column": column.header},
            )
    return _Header(number, positions, labels) if ok else None


# --- Reading one row -------------------------------------------------------------------------


def _cell_text(value) -> str:
    """A cell as NFC text, whitespace collapsed. Whole numbers typed into text columns come back
    from Excel as floats ('2023.0'), so they are written without the decimal part."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    return clean_text(value)


def _cell_free_text(value) -> str:
    """Free text stored as written: NFC and trimmed, its line breaks kept."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value).strip()
    return _cell_text(value)


@dataclass
class _Row:
    """One register row, read and checked; ids of reference data already resolved."""

    number: int
    register_code: str = ""
    product_name: str = ""
    producer_name: str = ""
    producer_kind: str = ""
    tax_code: str = ""
    producer_address: str = ""
    district_name: str = ""
    commune_name: str = ""
    origin_commune_id: int | None = None
    current_commune_id: int | None = None
    stars: int | None = None
    category_id: int | None = None
    decision_number: str = ""
    issuing_body: str = ""
    decision_date: datetime.date | None = None
    decision_year: int | None = None
    expires_on: datetime.date | None = None
    certificate_kind: str = ""
    source_url: str = ""
    evidence: str = ""
    notes: str = ""

    match_key: str = ""  # RegisterEntry.match_key: folded decision number | folded product name
    producer_key: str = ""  # Cooperative.match_name of the producer

    @property
    def has_certificate(self) -> bool:
        return bool(self.stars or self.decision_number or self.decision_year or self.decision_date)


class _Lookups:
    """Reference data looked up once per distinct value: these dicts grow with the number of
    distinct communes and categories in the file, never with its rows."""

    def __init__(self, today: datetime.date):
        self.today = today
        self._communes: dict[str, list[AdministrativeUnit]] = {}  # code → units found so far
        self._commune_fallbacks: dict[tuple[str, datetime.date | None], AdministrativeUnit | None] = {}
        self._successors: dict[int, AdministrativeUnit | None] = {}
        self._categories: dict[tuple[str, str], int | None] = {}
        self._matcher: CategoryMatcher | None = None

    def commune(self, code: str, on: datetime.date | None) -> AdministrativeUnit | None:
        """find_commune_by_code, asked once per code and period rather than once per row: every
        decision date is a different `on`, but a unit found in force answers for its whole span."""
        day = on or self.today
        known = self._communes.setdefault(code, [])
        for unit in known:
            if unit.is_in_force(day):
                return unit
        key = (code, on)
        if key in self._commune_fallbacks:
            return self._commune_fallbacks[key]
        unit = find_commune_by_code(code, on=on)
        if unit is not None and unit.is_in_force(day):
            known.append(unit)
        else:  # none in force that day: the answer is the function's fallback, kept per day
            self._commune_fallbacks[key] = unit
        return unit

    def successor(self, unit: AdministrativeUnit) -> AdministrativeUnit | None:
        if unit.pk not in self._successors:
            self._successors[unit.pk] = current_unit_for(unit)
        return self._successors[unit.pk]

    def category_id(self, label: str, group: str) -> int | None:
        """find_category's answer, from one CategoryMatcher for the whole pass (find_category
        itself reads the taxonomy on every call)."""
        key = (label, group)
        if key not in self._categories:
            if self._matcher is None:
                self._matcher = CategoryMatcher()
            category = self._matcher.find(label, group=group)
            self._categories[key] = category.pk if category else None
        return self._categories[key]


def _parse_date(value) -> datetime.date | None | str:
    """A date cell or text as a date; None when blank; the string "invalid" when unreadable."""
    if _is_blank(value):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, (int, float)):
        return "invalid"  # a number in a date column: the cell lost its date format, do not guess
    text = clean_text(value)
    match = _DMY.match(text)
    if match:
        day, month, year = (int(part) for part in match.groups())
    else:
        match = _YMD.match(text)
        if not match:
            return "invalid"
        year, month, day = (int(part) for part in match.groups())
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return "invalid"


def _whole_number_text(value) -> str:
    """Digits of a code typed as a number (Excel drops leading zeros; restored by the caller)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool):
        return str(value)
    return clean_text(value)


def _read_row(number: int, cells: tuple, header: _Header, lookups: _Lookups, report: CheckReport, today) -> _Row:
    """Read and check one row. Every problem is added to `report`; the caller uses the row
    only when there was none."""
    positions = header.positions
    width = len(cells)

    def cell(key):
        index = positions.get(key)
        return cells[index] if index is not None and index < width else None

    def error(key, message):
        report.add_error(number, header.label(key), message)

    row = _Row(number=number)

    def text(key, max_length):
        value = _cell_text(cell(key))
        if len(value) > max_length:
            error(
                key,
                _(
                    "'%(column)s' is %(length)d characters long; at most %(max)d are allowed. "
                    "Shorten it (the full text can go in 'Ghi chú')."
                )
                % {"column": header.label(key), "length": len(value), "max": max_length},
            )
        return value

    row.register_code = text("register_code", 40)
    row.product_name = text("product_name", 255)
    name_key = match_key(row.product_name)
    if not row.product_name:
        error("product_name", _("The product name is empty. Every row needs one."))
    elif not name_key:
        error(
            "product_name",
            _("The product name '%(value)s' has no letters or digits.") % {"value": row.product_name},
        )
    row.producer_name = text("producer_name", 255)
    row.producer_key = match_key(row.producer_name)
    if row.producer_name and not row.producer_key:
        error(
            "producer_name",
            _("The producer name '%(value)s' has no letters or digits.") % {"value": row.producer_name},
        )

    kind_text = _cell_text(cell("producer_kind"))
    if kind_text:
        row.producer_kind = _PRODUCER_KIND_BY_KEY.get(_fold(kind_text), "")
        if not row.producer_kind:
            error(
                "producer_kind",
                _(
                    "The legal form '%(value)s' is not known. Write one of: Hợp tác xã (HTX), Doanh nghiệp "
                    "(DN, Công ty), Tổ hợp tác (THT), Hộ kinh doanh (HKD)."
                )
                % {"value": kind_text},
            )

    row.tax_code = _read_tax_code(cell("tax_code"), row, error)
    row.producer_address = text("producer_address", 255)
    row.district_name = text("district_name", 120)
    row.commune_name = text("commune_name", 120)

    # Certificate facts first: the certification date tells which commune a code meant.
    raw_stars = cell("stars")
    if not _is_blank(raw_stars):
        row.stars = _read_stars(raw_stars)
        if row.stars is None:
            error(
                "stars",
                _("Stars '%(value)s' are not valid: only 3, 4 or 5 (leave the cell empty when unknown).")
                % {"value": _cell_text(raw_stars)},
            )

    row.decision_number = text("decision_number", 100)
    row.issuing_body = text("issuing_body", 200)

    decision_date = _parse_date(cell("decision_date"))
    if decision_date == "invalid":
        error(
            "decision_date",
            _("The decision date '%(value)s' is not a date. Write it as dd/mm/yyyy, e.g. 28/12/2023.")
            % {"value": _cell_text(cell("decision_date"))},
        )
    elif decision_date is not None:
        if decision_date > today:
            error(
                "decision_date",
                _("The decision date %(value)s is in the future. Check the day, month and year.")
                % {"value": decision_date.strftime("%d/%m/%Y")},
            )
        elif decision_date.year < FIRST_OCOP_YEAR:
            error(
                "decision_date",
                _("The decision date %(value)s is before %(year)d, when OCOP certification began. Check the year.")
                % {"value": decision_date.strftime("%d/%m/%Y"), "year": FIRST_OCOP_YEAR},
            )
        else:
            row.decision_date = decision_date

    raw_year = cell("certified_year")
    if not _is_blank(raw_year):
        year = _read_year(raw_year)
        if year is None or not FIRST_OCOP_YEAR <= year <= today.year:
            error(
                "certified_year",
                _("The year '%(value)s' is not valid: write a year from %(first)d to %(last)d.")
                % {"value": _cell_text(raw_year), "first": FIRST_OCOP_YEAR, "last": today.year},
            )
        elif row.decision_date and row.decision_date.year != year:
            error(
                "certified_year",
                _(
                    "The year %(year)d does not match the decision date %(date)s. Correct one of them, "
                    "or leave the year empty."
                )
                % {"year": year, "date": row.decision_date.strftime("%d/%m/%Y")},
            )
        else:
            row.decision_year = year
    if row.decision_date:
        row.decision_year = row.decision_date.year

    expires_on = _parse_date(cell("expires_on"))
    if expires_on == "invalid":
        error(
            "expires_on",
            _("The expiry date '%(value)s' is not a date. Write it as dd/mm/yyyy, or leave it empty.")
            % {"value": _cell_text(cell("expires_on"))},
        )
    elif expires_on is not None:
        if row.decision_date and expires_on <= row.decision_date:
            error(
                "expires_on",
                _("The expiry date %(expiry)s must be after the decision date %(date)s.")
                % {"expiry": expires_on.strftime("%d/%m/%Y"), "date": row.decision_date.strftime("%d/%m/%Y")},
            )
        else:
            row.expires_on = expires_on
    if row.decision_date and row.expires_on is None and expires_on is None:
        row.expires_on = Certificate.default_expiry(row.decision_date)

    kind_text = _cell_text(cell("certificate_kind"))
    if kind_text:
        row.certificate_kind = _read_certificate_kind(kind_text)
        if not row.certificate_kind:
            error(
                "certificate_kind",
                _("The rating kind '%(value)s' is not known. Write Đánh giá lần đầu, Đánh giá lại or Nâng hạng.")
                % {"value": kind_text},
            )

    _read_communes(row, cell, error, lookups, today)

    subgroup = _cell_text(cell("subgroup"))
    group = _cell_text(cell("product_group"))
    if subgroup:
        row.category_id = lookups.category_id(subgroup, group)
        if row.category_id is None:
            error(
                "subgroup",
                _(
                    "The product set '%(value)s' is not in the OCOP classification (Decision 148/QĐ-TTg). "
                    "Use the wording of the classification, e.g. 'Chè tươi, chế biến'."
                )
                % {"value": subgroup},
            )

    row.source_url = _cell_free_text(cell("source_url"))
    row.evidence = _cell_free_text(cell("evidence"))
    row.notes = _cell_free_text(cell("notes"))

    if not row.register_code and not row.decision_number:
        error(
            "register_code",
            _(
                "The row has neither a register code nor a decision number. Fill in at least one: it is "
                "how the next import recognises this product."
            ),
        )
    row.match_key = f"{_fold(row.decision_number)}|{name_key}"
    return row


def _read_stars(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        return int(number) if number.is_integer() and int(number) in (3, 4, 5) else None
    match = _STARS.match(clean_text(value))
    if not match:
        return None
    stars = int(match.group(1))
    return stars if stars in (3, 4, 5) else None


def _read_year(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (datetime.date, datetime.datetime)):
        return None
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() else None
    match = _YEAR.match(clean_text(value))
    return int(match.group(1)) if match else None


def _read_certificate_kind(text: str) -> str:
    key = _fold(text)
    for prefix in _CERTIFICATE_KIND_PREFIXES:
        if key.startswith(prefix) and key[len(prefix) :] in _CERTIFICATE_KIND_BY_KEY:
            return _CERTIFICATE_KIND_BY_KEY[key[len(prefix) :]]
    return _CERTIFICATE_KIND_BY_KEY.get(key, "")


def _read_tax_code(value, row: _Row, error) -> str:
    if _is_blank(value):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Typed as a number, Excel dropped the leading zero of a Hà Nội (01…) tax code or of a
        # personal identification number (0…): put it back, nothing else is changed.
        digits = _whole_number_text(value)
        if len(digits) in (9, 11):
            digits = "0" + digits
        raw = digits
    else:
        raw = clean_text(value)
    code = normalise_tax_code(raw)
    try:
        validate_tax_code(code)
    except ValidationError as invalid:
        error(
            "tax_code",
            _("Tax code '%(value)s': %(reason)s") % {"value": raw, "reason": " ".join(invalid.messages)},
        )
        return ""
    if is_personal_id_number(code) and row.producer_kind != Cooperative.Kind.HOUSEHOLD:
        error(
            "tax_code",
            _(
                "Tax code '%(value)s' has 12 digits, which is a personal identification number: that is a tax "
                "code only for a household business. Set the legal form to 'Hộ kinh doanh', or write the "
                "10-digit tax code."
            )
            % {"value": raw},
        )
        return ""
    if not row.producer_name:
        error(
            "tax_code",
            _("Tax code '%(value)s' is given without a producer name. Fill in the producer too.") % {"value": raw},
        )
        return ""
    return code


def _read_commune_code(value) -> str | None:
    """The 5-digit code, with the leading zero Excel drops from numbers put back; None if not a code."""
    text = _whole_number_text(value)
    if not _DIGITS.match(text) or len(text) > COMMUNE_CODE_LENGTH:
        return None
    return text.zfill(COMMUNE_CODE_LENGTH)


def _read_communes(row: _Row, cell, error, lookups: _Lookups, today) -> None:
    """The commune as certified (product's origin) and the commune it is today (cooperative's)."""
    origin = current = None
    raw = cell("commune_code")
    if not _is_blank(raw):
        code = _read_commune_code(raw)
        if code is None:
            error(
                "commune_code",
                _("The commune code '%(value)s' is not valid: a commune code has 5 digits, e.g. 04657.")
                % {"value": _cell_text(raw)},
            )
        else:
            # The commune in force when the product was certified: codes were re-used on 1 July
            # 2025, so without a date after the reform the code is read as it was on its eve.
            if row.decision_date:
                on = row.decision_date
            elif row.decision_year and row.decision_year > LAST_PRE_REFORM_DAY.year:
                on = today
            else:
                on = LAST_PRE_REFORM_DAY
            origin = lookups.commune(code, on)
            if origin is None:
                error(
                    "commune_code",
                    _(
                        "The commune code '%(value)s' is not in the list of administrative units. Check it "
                        "against the statistics office's code list."
                    )
                    % {"value": code},
                )
    raw = cell("commune_code_2025")
    if not _is_blank(raw):
        code = _read_commune_code(raw)
        if code is None:
            error(
                "commune_code_2025",
                _("The commune code '%(value)s' is not valid: a commune code has 5 digits, e.g. 04672.")
                % {"value": _cell_text(raw)},
            )
        else:
            current = lookups.commune(code, None)
            if current is None:
                error(
                    "commune_code_2025",
                    _(
                        "The commune code '%(value)s' is not in the list of administrative units. Write the "
                        "code of the commune as it is since 1 July 2025."
                    )
                    % {"value": code},
                )
            elif not current.is_in_force(today):
                error(
                    "commune_code_2025",
                    _(
                        "The commune code '%(value)s' belongs to %(name)s, which no longer exists. Write the "
                        "code of the commune it belongs to now."
                    )
                    % {"value": code, "name": current},
                )
                current = None
    if origin is not None:
        successor = lookups.successor(origin)
        if current is not None and successor is not None and successor.pk != current.pk:
            error(
                "commune_code_2025",
                _(
                    "The commune codes do not agree: %(old)s (%(old_code)s) is now %(new)s (%(new_code)s), "
                    "but the 2025 code is %(given_code)s (%(given)s). Correct one of the two codes."
                )
                % {
                    "old": origin,
                    "old_code": origin.code,
                    "new": successor,
                    "new_code": successor.code,
                    "given": current,
                    "given_code": current.code,
                },
            )
        current = current or successor
    if origin is None and current is not None:
        origin = current  # certified after the reform, or only the current code is known
    row.origin_commune_id = origin.pk if origin else None
    row.current_commune_id = current.pk if current else None


class _Duplicates:
    """Rows of the file that describe the same product. Checked on every row, valid or not, so
    the officer sees both row numbers at once. This needs the key of every row seen so far; they
    are kept in a temporary SQLite file rather than in memory, so that checking a register of
    any length takes the same memory (SQLite keeps a small page cache, not the keys)."""

    REGISTER_CODE, DECISION_AND_NAME = 1, 2

    def __init__(self, report: CheckReport, header: _Header):
        self.report = report
        self.header = header
        self._folder = tempfile.TemporaryDirectory(prefix="ocop-register-")
        self._db = sqlite3.connect(Path(self._folder.name) / "seen.sqlite3")
        # A scratch file: nothing to recover after a crash, so no journal and no fsync.
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-2048;"
            "CREATE TABLE seen (kind INTEGER, key TEXT, row INTEGER, PRIMARY KEY (kind, key)) WITHOUT ROWID;"
        )

    def close(self) -> None:
        self._db.close()
        self._folder.cleanup()

    def _first_row(self, kind: int, key: str, number: int) -> int:
        """The first row with this key: `number` itself when it is new."""
        inserted = self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (kind, key, number)).rowcount
        if inserted:
            return number
        return self._db.execute("SELECT row FROM seen WHERE kind = ? AND key = ?", (kind, key)).fetchone()[0]

    def check(self, row: _Row) -> None:
        if row.register_code:
            first = self._first_row(self.REGISTER_CODE, row.register_code, row.number)
            if first != row.number:
                self.report.add_error(
                    row.number,
                    self.header.label("register_code"),
                    _(
                        "The register code '%(code)s' is used twice, in rows %(first)d and %(row)d. "
                        "Each product has its own code."
                    )
                    % {"code": row.register_code, "first": first, "row": row.number},
                )
        if row.decision_number and row.product_name:
            first = self._first_row(self.DECISION_AND_NAME, row.match_key, row.number)
            if first != row.number:
                self.report.add_error(
                    row.number,
                    self.header.label("product_name"),
                    _(
                        "Rows %(first)d and %(row)d are the same product: same decision number '%(number)s' "
                        "and product name '%(name)s'. Remove one of them."
                    )
                    % {"first": first, "row": row.number, "number": row.decision_number, "name": row.product_name},
                )


# --- Matching rows to what is in the database ------------------------------------------------


_PRODUCT_FIELDS = ("name", "category_id", "cooperative_id", "origin_commune_id")
_ENTRY_FIELDS = ("register_code", "match_key", "producer_name", "district_name", "commune_name")
_ENTRY_TEXT_FIELDS = ("source_url", "evidence", "notes")
_CERTIFICATE_FIELDS = (
    "stars",
    "decision_number",
    "issuing_body",
    "decision_date",
    "decision_year",
    "expires_on",
    "kind",
)


def _field_labels() -> dict[str, str]:
    return {
        "name": _("name"),
        "category_id": _("OCOP group"),
        "cooperative_id": _("producer"),
        "origin_commune_id": _("commune of origin"),
    }


class _CoopRef:
    """What the planner remembers of a cooperative between batches: a few fields, not a model
    instance (a tenth of the memory), so that a long register stays flat in memory. A model
    instance is made only for the batch that creates, changes or links the cooperative."""

    __slots__ = ("pk", "name", "match_name", "tax_code", "kind", "address", "commune_id", "instance")

    def __init__(self, coop: Cooperative, *, keep_instance: bool = False):
        self.pk = coop.pk
        self.name, self.match_name, self.tax_code = coop.name, coop.match_name, coop.tax_code
        self.kind, self.address, self.commune_id = coop.kind, coop.address, coop.commune_id
        self.instance = coop if keep_instance else None

    def materialize(self) -> Cooperative:
        if self.instance is None:
            self.instance = Cooperative(
                pk=self.pk,
                name=self.name,
                match_name=self.match_name,
                tax_code=self.tax_code,
                kind=self.kind,
                address=self.address,
                commune_id=self.commune_id,
            )
        return self.instance

    def settle(self) -> None:
        """After its batch: keep the id the database gave it (import pass), drop the instance."""
        if self.instance is not None:
            self.pk = self.instance.pk
            self.instance = None


@dataclass
class _Chunk:
    """What one batch of rows will write."""

    new_cooperatives: list[Cooperative] = field(default_factory=list)
    changed_cooperatives: dict[int, tuple[Cooperative, set[str]]] = field(default_factory=dict)  # by id()
    new_products: list[tuple[_Row, Cooperative | None]] = field(default_factory=list)  # built by the writer
    updated_products: list[tuple[Product, set[str], _Row, Cooperative | None]] = field(default_factory=list)
    updated_entries: list[RegisterEntry] = field(default_factory=list)
    new_certificates: list[Certificate] = field(default_factory=list)
    updated_certificates: list[Certificate] = field(default_factory=list)


class _Planner:
    """Decides, batch by batch, what each row creates or changes. The check pass and the import
    pass run the same planner, so the counts the check announces are what the import does."""

    def __init__(self, report: CheckReport, header: _Header, *, user, now):
        self.report = report
        self.header = header
        self.user = user
        self.now = now
        self.seen_products: dict[int, int] = {}
        # Cooperatives: these grow with the number of distinct producers, not with rows, and hold
        # small references, not model instances (see _CoopRef).
        self.coops_by_tax: dict[str, _CoopRef] = {}
        self.coops_by_name: dict[str, list[_CoopRef]] = {}
        self.touched: list[_CoopRef] = []  # references given an instance in the current batch
        self.queried_taxes: set[str] = set()
        self.queried_names: set[str] = set()
        self.new_coops: set[int] = set()  # id() of the cooperatives this file creates
        self.counted_changed: set[int] = set()

    def _row_error(self, row: _Row, key: str, message: str) -> None:
        self.report.add_error(row.number, self.header.label(key), message)
        self.report.invalid_rows += 1

    # -- cooperatives

    def _load_cooperatives(self, rows: list[_Row]) -> None:
        """Fetch, in one query per batch, the cooperatives its rows name that are not known yet."""
        taxes = {row.tax_code for row in rows if row.tax_code} - self.queried_taxes
        names = {row.producer_key for row in rows if row.producer_name} - self.queried_names
        if not taxes and not names:
            return
        self.queried_taxes |= taxes
        self.queried_names |= names
        for coop in Cooperative.objects.filter(Q(tax_code__in=taxes) | Q(match_name__in=names)).order_by("pk"):
            if coop.tax_code and coop.tax_code in self.coops_by_tax:
                continue  # known already (loaded by its name, or created by this import)
            same_name = self.coops_by_name.setdefault(coop.match_name, [])
            if any(known.pk == coop.pk for known in same_name):
                continue
            ref = _CoopRef(coop)
            if coop.tax_code:
                self.coops_by_tax[coop.tax_code] = ref
            same_name.append(ref)

    def settle(self) -> None:
        """Called after each batch is planned (and written): forget its model instances."""
        for ref in self.touched:
            ref.settle()
        self.touched = []

    def _instance(self, ref: _CoopRef) -> Cooperative:
        if ref.instance is None:
            self.touched.append(ref)
        return ref.materialize()

    def _cooperative_for(self, row: _Row, chunk: _Chunk) -> tuple[Cooperative | None, bool]:
        """The row's cooperative (existing, or new and unsaved) and whether the row is valid.
        Matched by tax code when the row has one, else by name: never created twice."""
        if not row.producer_name:
            return None, True  # a data problem to fix later, never an invented producer
        name_key = row.producer_key
        if row.tax_code:
            ref = self.coops_by_tax.get(row.tax_code)
            if ref is None:
                # Registered earlier by name, without a tax code: the same producer.
                candidates = [known for known in self.coops_by_name.get(name_key, ()) if not known.tax_code]
                if len(candidates) > 1:
                    return None, self._ambiguous_cooperative(row, len(candidates))
                ref = candidates[0] if candidates else None
        else:
            candidates = self.coops_by_name.get(name_key, [])
            if len(candidates) > 1:
                return None, self._ambiguous_cooperative(row, len(candidates))
            ref = candidates[0] if candidates else None
        if ref is None:
            coop = Cooperative(
                name=row.producer_name,
                match_name=name_key,
                kind=row.producer_kind,
                tax_code=row.tax_code,
                address=row.producer_address,
                commune_id=row.current_commune_id,
            )
            ref = _CoopRef(coop, keep_instance=True)
            self.touched.append(ref)
            self.coops_by_name.setdefault(name_key, []).append(ref)
            if row.tax_code:
                self.coops_by_tax[row.tax_code] = ref
            self.new_coops.add(id(ref))
            chunk.new_cooperatives.append(coop)
            self.report.new_cooperatives += 1
            return coop, True
        coop = self._instance(ref)
        # The cooperative keeps what it wrote itself; the register only fills what is blank.
        changed = set()
        for attr, value in (
            ("kind", row.producer_kind),
            ("tax_code", row.tax_code),
            ("address", row.producer_address),
            ("commune_id", row.current_commune_id),
        ):
            if value and not getattr(ref, attr):
                setattr(ref, attr, value)
                setattr(coop, attr, value)
                changed.add(attr)
        if "tax_code" in changed:
            self.coops_by_tax[row.tax_code] = ref
        if changed and coop.pk is not None:
            _coop, fields = chunk.changed_cooperatives.setdefault(id(ref), (coop, set()))
            fields.update(changed)
            if id(ref) not in self.new_coops and id(ref) not in self.counted_changed:
                self.counted_changed.add(id(ref))
                self.report.updated_cooperatives += 1
        return coop, True

    def _ambiguous_cooperative(self, row: _Row, count: int) -> bool:
        self._row_error(
            row,
            "producer_name",
            _(
                "%(count)d producers named '%(name)s' are already registered. Write the tax code so that the "
                "right one is chosen."
            )
            % {"count": count, "name": row.producer_name},
        )
        return False

    # -- products

    def _existing_entries(self, rows: list[_Row]):
        codes = [row.register_code for row in rows if row.register_code]
        by_code = {
            entry.register_code: entry
            # The extra condition repeats the partial unique index's own, so PostgreSQL can use it.
            for entry in RegisterEntry.objects.filter(register_code__in=codes)
            .exclude(register_code="")
            .select_related("product")
        }
        keys = [row.match_key for row in rows if row.decision_number and row.register_code not in by_code]
        by_key: dict[str, list[RegisterEntry]] = {}
        if keys:
            for entry in RegisterEntry.objects.filter(match_key__in=keys).select_related("product").order_by("pk"):
                by_key.setdefault(entry.match_key, []).append(entry)
        return by_code, by_key

    def _entry_for(self, row: _Row, by_code, by_key) -> tuple[RegisterEntry | None, bool]:
        if row.register_code and row.register_code in by_code:
            return by_code[row.register_code], True
        if not row.decision_number:
            return None, True
        candidates = by_key.get(row.match_key, [])
        if row.register_code:
            # A product imported before the register had codes: recognised by decision and name.
            candidates = [entry for entry in candidates if not entry.register_code]
        if len(candidates) > 1:
            self._row_error(
                row,
                "decision_number",
                _(
                    "%(count)d products already have decision number '%(number)s' and name '%(name)s'. Add the "
                    "register code to tell them apart."
                )
                % {"count": len(candidates), "number": row.decision_number, "name": row.product_name},
            )
            return None, False
        return (candidates[0] if candidates else None), True

    def plan(self, rows: list[_Row]) -> _Chunk:
        chunk = _Chunk()
        if not rows:
            return chunk
        self._load_cooperatives(rows)
        by_code, by_key = self._existing_entries(rows)
        matched: list[tuple[_Row, RegisterEntry, Cooperative | None]] = []
        for row in rows:
            entry, ok = self._entry_for(row, by_code, by_key)
            if not ok:
                continue
            if entry is not None:
                first = self.seen_products.setdefault(entry.product_id, row.number)
                if first != row.number:
                    self._row_error(
                        row,
                        "product_name",
                        _("Rows %(first)d and %(row)d both describe the registered product '%(name)s'.")
                        % {"first": first, "row": row.number, "name": entry.product.name},
                    )
                    continue
            coop, ok = self._cooperative_for(row, chunk)
            if not ok:
                continue
            if entry is None:
                chunk.new_products.append((row, coop))
                self.report.new_products += 1
                if row.has_certificate:
                    self.report.new_certificates += 1
            else:
                matched.append((row, entry, coop))
        if matched:
            self._plan_updates(matched, chunk)
        return chunk

    def _plan_updates(self, matched, chunk: _Chunk) -> None:
        product_ids = [entry.product_id for _row, entry, _coop in matched]
        certificates: dict[int, list[Certificate]] = {}
        for certificate in Certificate.objects.filter(product_id__in=product_ids).order_by("pk"):
            certificates.setdefault(certificate.product_id, []).append(certificate)
        labels = _field_labels()
        for row, entry, coop in matched:
            product = entry.product
            changed_product = self._product_changes(row, product, coop)
            if changed_product:
                # Moderated content follows the register only while nobody has approved or edited
                # the product: once it has a revision, editors see the revision, not this row.
                # (No revision also means no workflow: a workflow reviews a revision, see
                # catalog.services.product_submit_for_review.)
                editable = not product.live and product.live_revision_id is None and product.latest_revision_id is None
                if editable:
                    chunk.updated_products.append((product, changed_product, row, coop))
                else:
                    fields = ", ".join(labels[name] for name in _PRODUCT_FIELDS if name in changed_product)
                    if product.live or product.live_revision_id is not None:
                        message = _(
                            "The product has been approved: the change of %(fields)s must be made by an officer "
                            "in the admin. It was not applied."
                        )
                    else:
                        message = _(
                            "The product's draft is being edited or reviewed: the change of %(fields)s must be "
                            "made by an officer in the admin. It was not applied."
                        )
                    self.report.add_warning(row.number, self.header.label("product_name"), message % {"fields": fields})
                    changed_product = set()
            changed_entry = self._entry_changes(row, entry)
            if changed_entry:
                chunk.updated_entries.append(entry)
            changed_certificate = False
            if row.has_certificate:
                changed_certificate = self._plan_certificate(row, product, certificates.get(product.pk, []), chunk)
            if changed_product or changed_entry or changed_certificate:
                self.report.updated_products += 1
            else:
                self.report.unchanged_products += 1

    @staticmethod
    def _product_changes(row: _Row, product: Product, coop: Cooperative | None) -> set[str]:
        # An empty cell is "unknown": it never erases what the product already has.
        changes = set()
        if product.name != row.product_name:
            changes.add("name")
        if row.category_id and product.category_id != row.category_id:
            changes.add("category_id")
        if coop is not None and (coop.pk is None or product.cooperative_id != coop.pk):
            changes.add("cooperative_id")
        if row.origin_commune_id and product.origin_commune_id != row.origin_commune_id:
            changes.add("origin_commune_id")
        return changes

    def _entry_changes(self, row: _Row, entry: RegisterEntry) -> bool:
        # The register entry is what the register says: it follows the row, blanks included,
        # except the register code, which identifies the product once given.
        wanted = {
            "register_code": row.register_code or entry.register_code,
            "match_key": row.match_key,
            "producer_name": row.producer_name,
            "district_name": row.district_name,
            "commune_name": row.commune_name,
            "source_url": row.source_url,
            "evidence": row.evidence,
            "notes": row.notes,
        }
        changed = False
        for name, value in wanted.items():
            if getattr(entry, name) != value:
                setattr(entry, name, value)
                changed = True
        if changed:
            entry.imported_at = self.now
        return changed

    def _plan_certificate(self, row: _Row, product: Product, existing: list[Certificate], chunk: _Chunk) -> bool:
        certificate = None
        if row.decision_number:
            certificate = next((c for c in existing if c.decision_number == row.decision_number), None)
        if certificate is None:
            # The product's only register certificate without a number is this row's certificate
            # (now perhaps with its number), unless it is clearly another year's.
            unnumbered = [c for c in existing if c.source == Certificate.Source.REGISTER and not c.decision_number]
            if len(unnumbered) == 1:
                candidate = unnumbered[0]
                if candidate.decision_year is None or row.decision_year in (None, candidate.decision_year):
                    certificate = candidate
            elif len(unnumbered) > 1 and not row.decision_number:
                self.report.add_warning(
                    row.number,
                    self.header.label("stars"),
                    _(
                        "The product has %(count)d register certificates without a decision number, so it is not "
                        "clear which one this row describes; none was changed. Add the decision number."
                    )
                    % {"count": len(unnumbered)},
                )
                return False
        if certificate is None:
            chunk.new_certificates.append(_new_certificate(row, product, now=self.now, user=self.user))
            self.report.new_certificates += 1
            return True
        changed = False
        for name in _CERTIFICATE_FIELDS:
            value = row.certificate_kind if name == "kind" else getattr(row, name)
            if value in (None, "") or getattr(certificate, name) == value:
                continue  # an empty cell never erases what is known
            setattr(certificate, name, value)
            changed = True
        if changed or certificate.verified_at is None:
            # The register is the department's own data: what it states is verified.
            certificate.verified_at, certificate.verified_by = self.now, self.user
            chunk.updated_certificates.append(certificate)
            self.report.updated_certificates += 1
            return True
        return False


def _new_certificate(row: _Row, product: Product, *, now, user) -> Certificate:
    # The register is the department's own official data: its certificates are verified.
    # Certificate.save() is not called by bulk_create: decision_year and expires_on were
    # derived by _read_row with the same rules (year of the date, date + 36 months).
    return Certificate(
        product=product,
        stars=row.stars,
        decision_number=row.decision_number,
        issuing_body=row.issuing_body,
        decision_date=row.decision_date,
        decision_year=row.decision_year,
        expires_on=row.expires_on,
        kind=row.certificate_kind,
        source=Certificate.Source.REGISTER,
        verified_at=now,
        verified_by=user,
        created_by=user,
    )


def _new_product(row: _Row, coop: Cooperative | None) -> Product:
    # DraftStateMixin defaults to live=True: an imported product is a draft until approved.
    return Product(
        name=row.product_name,
        cooperative_id=coop.pk if coop else None,
        category_id=row.category_id,
        origin_commune_id=row.origin_commune_id,
        live=False,
        has_unpublished_changes=True,
    )


# --- Writing one batch ----------------------------------------------------------------------


class _Writer:
    """Writes planned batches with bulk queries. The models' save() methods are skipped; the
    planner already did what they do (Cooperative: match_name, tax code; Certificate: year,
    expiry; Product: the search columns, see _set_search_fields), and Offer has no custom save
    logic."""

    def __init__(self, user, now):
        self._categories = None
        self.user = user
        self.now = now
        self._slugs: set[str] | None = None

    def _unique_slug(self, name: str) -> str:
        if self._slugs is None:
            self._slugs = set(Cooperative.objects.values_list("slug", flat=True))
        # match_key folds đ and drops accents first; slugify alone would drop the whole letter.
        base = slugify(match_key(name))[:110].strip("-") or "chu-the"
        slug, suffix = base, 2
        while slug in self._slugs:
            slug, suffix = f"{base}-{suffix}", suffix + 1
        self._slugs.add(slug)
        return slug

    def _set_search_fields(self, product: Product) -> None:
        """What Product.save() would store for search (bulk writes skip save())."""
        if self._categories is None:
            self._categories = {category.pk: category for category in OcopCategory.objects.all()}
        category = self._categories.get(product.category_id)
        for name, value in search_fields_for(product, category=category).items():
            setattr(product, name, value)

    def write(self, chunk: _Chunk) -> None:
        if chunk.new_cooperatives:
            for coop in chunk.new_cooperatives:
                coop.slug = self._unique_slug(coop.name)
                coop.tax_code = normalise_tax_code(coop.tax_code)
                coop.match_name = match_key(coop.name)
            Cooperative.objects.bulk_create(chunk.new_cooperatives, batch_size=BATCH_SIZE)
        for coop, fields in chunk.changed_cooperatives.values():
            coop.save(update_fields=[*sorted(fields), "updated_at"])

        # Products are built here, not while planning: the check pass needs only their count.
        new_products = [_new_product(row, coop) for row, coop in chunk.new_products]
        for product in new_products:
            self._set_search_fields(product)
        if new_products:
            Product.objects.bulk_create(new_products, batch_size=BATCH_SIZE)
            Offer.objects.bulk_create(
                [
                    Offer(product=product, sku=Offer.sku_for(product.pk), price_vnd=None, stock=0, updated_by=self.user)
                    for product in new_products
                ],
                batch_size=BATCH_SIZE,
            )
            RegisterEntry.objects.bulk_create(
                [
                    RegisterEntry(
                        product=product,
                        register_code=row.register_code,
                        match_key=row.match_key,
                        producer_name=row.producer_name,
                        district_name=row.district_name,
                        commune_name=row.commune_name,
                        source_url=row.source_url,
                        evidence=row.evidence,
                        notes=row.notes,
                        imported_at=self.now,
                    )
                    for product, (row, _coop) in zip(new_products, chunk.new_products, strict=True)
                ],
                batch_size=BATCH_SIZE,
            )
            chunk.new_certificates.extend(
                _new_certificate(row, product, now=self.now, user=self.user)
                for product, (row, _coop) in zip(new_products, chunk.new_products, strict=True)
                if row.has_certificate
            )

        updated_products, fields = [], {"updated_at"}
        for product, changed, row, coop in chunk.updated_products:
            if "name" in changed:
                product.name = row.product_name
            if "category_id" in changed:
                product.category_id = row.category_id
            if "origin_commune_id" in changed:
                product.origin_commune_id = row.origin_commune_id
            if "cooperative_id" in changed:
                product.cooperative_id = coop.pk
            product.updated_at = self.now  # bulk_update does not apply auto_now
            fields |= {name.removesuffix("_id") for name in changed}
            if {"name", "category_id"} & set(changed):
                self._set_search_fields(product)
                fields |= {"search_name", "search_text"}
            updated_products.append(product)
        if updated_products:
            Product.objects.bulk_update(updated_products, sorted(fields), batch_size=BATCH_SIZE)
        if chunk.updated_entries:
            RegisterEntry.objects.bulk_update(
                chunk.updated_entries, [*_ENTRY_FIELDS, *_ENTRY_TEXT_FIELDS, "imported_at"], batch_size=BATCH_SIZE
            )
        if chunk.new_certificates:
            Certificate.objects.bulk_create(chunk.new_certificates, batch_size=BATCH_SIZE)
        if chunk.updated_certificates:
            Certificate.objects.bulk_update(
                chunk.updated_certificates, [*_CERTIFICATE_FIELDS, "verified_at", "verified_by"], batch_size=BATCH_SIZE
            )
        _index_for_search([*new_products, *updated_products])


def _index_for_search(products: list[Product]) -> None:
    """bulk_create sends no post_save signal: when Product is in Wagtail's search index, the
    index is fed in bulk here (one statement per batch, not one per product)."""
    from wagtail.search import index
    from wagtail.search.backends import get_search_backends

    if not products or not index.class_is_indexed(Product):
        return
    for backend in get_search_backends(with_auto_update=True):
        backend.add_bulk(Product, products)


# --- The two passes ---------------------------------------------------------------------------


def _run_pass(source: _Source, report: CheckReport, *, user, apply: bool, progress: Progress | None, total=None):
    """Read the file once, checking every row and planning what it changes; with `apply`, also
    write each batch (the caller holds the transaction). Fills `report`."""
    now = timezone.now()
    today = timezone.localdate()
    lookups = _Lookups(today)
    duplicates = None
    try:
        rows = source.rows()
        header = _read_header(rows, report)
        if header is None:
            return
        planner = _Planner(report, header, user=user, now=now)
        duplicates = _Duplicates(report, header)
        writer = _Writer(user, now) if apply else None
        batch: list[_Row] = []

        def flush():
            chunk = planner.plan(batch)
            if apply:
                if not report.is_valid:
                    raise _ImportAborted
                writer.write(chunk)
            planner.settle()

        for number, cells in rows:
            if all(_is_blank(value) for value in cells):
                continue
            report.total_rows += 1
            errors_before = report.error_count
            row = _read_row(number, cells, header, lookups, report, today)
            duplicates.check(row)
            if report.error_count == errors_before:
                batch.append(row)
            else:
                report.invalid_rows += 1
            if report.total_rows % BATCH_SIZE == 0:
                flush()
                batch = []
                if progress:
                    if total is None:
                        estimate = (source.estimated_rows or 0) - header.row_number
                        progress(report.total_rows, max(estimate, report.total_rows))
                    else:
                        progress(min(report.total_rows, total), max(total, report.total_rows))
        if batch:
            flush()
    except RegisterFileError as error:
        report.file_error = True
        report.add_error(error.row_number, error.column_header, error.message)
    finally:
        if duplicates is not None:
            duplicates.close()
    if progress:
        progress(report.total_rows, report.total_rows)


def check_register(file, *, filename: str, progress: Progress | None = None) -> CheckReport:
    """Read the whole register and report every problem; save nothing.

    `file` is a path, a Django File/FieldFile or a binary file object; `filename` decides the
    format (.xlsx or .csv). `progress(processed_rows, total_rows)` is called every 500 rows and
    at the end with (total, total); until the end, the total is estimated from the file."""
    report = CheckReport(filename=filename)
    try:
        source = _Source(file, filename)
    except RegisterFileError as error:
        report.file_error = True
        report.add_error(error.row_number, error.column_header, error.message)
        return report
    _run_pass(source, report, user=None, apply=False, progress=progress)
    return report


def import_register(
    file,
    *,
    filename: str,
    user=None,
    progress: Progress | None = None,
    check_progress: Progress | None = None,
) -> ImportResult:
    """Check the register, then, only if every row is good, save it all in one transaction.

    Nothing is saved when any row has an error: the result carries the check's report. Otherwise
    the file is read a second time (it is never held in memory) and every row creates or updates
    its product. `progress(processed_rows, total_rows)` follows the saving pass, every 500 rows
    and at the end; `check_progress` likewise follows the checking pass before it."""
    checked = CheckReport(filename=filename)
    try:
        source = _Source(file, filename)
    except RegisterFileError as error:
        checked.file_error = True
        checked.add_error(error.row_number, error.column_header, error.message)
        return ImportResult(report=checked, saved=False)
    _run_pass(source, checked, user=None, apply=False, progress=check_progress)
    if not checked.is_valid:
        return ImportResult(report=checked, saved=False)
    report = CheckReport(filename=filename)
    try:
        with transaction.atomic():
            _lock_register_imports()
            _run_pass(source, report, user=user, apply=True, progress=progress, total=checked.total_rows)
            if not report.is_valid:
                raise _ImportAborted
    except _ImportAborted:
        # The file or the database changed between the two passes; the transaction rolled back.
        return ImportResult(report=report, saved=False)
    return ImportResult(report=report, saved=True)


def _lock_register_imports() -> None:
    """Two imports at once would both plan "create" for the same new product: run them one
    after the other. SQLite already serialises writers (transaction_mode IMMEDIATE)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x0C0B4E61])


# --- RegisterImport (admin upload, Celery task) -----------------------------------------------


def run_register_import(register_import: RegisterImport, *, apply: bool) -> RegisterImport:
    """Check (apply=False) or import (apply=True) an uploaded register and record the outcome.

    Status: CHECKING → VALID or INVALID when checking; IMPORTING → DONE, or INVALID when a row has
    an error (nothing saved), or FAILED on an unexpected error. Progress (processed_rows) is saved
    every 500 rows while the file is checked, which runs outside any transaction. The saving pass
    runs in one transaction, so its progress could not be seen by anyone else before it commits:
    processed_rows stays at the checked total while IMPORTING and is final when DONE. An
    exception never leaves the status on CHECKING/IMPORTING: it is logged, the status becomes
    FAILED with a message for the officer, and the exception is not re-raised."""
    status = RegisterImport.Status
    register_import.status = status.IMPORTING if apply else status.CHECKING
    register_import.total_rows = None
    register_import.processed_rows = 0
    register_import.failure = ""
    register_import.finished_at = None
    register_import.save(update_fields=["status", "total_rows", "processed_rows", "failure", "finished_at"])

    def save_progress(processed: int, total: int) -> None:
        register_import.processed_rows, register_import.total_rows = processed, total
        RegisterImport.objects.filter(pk=register_import.pk).update(processed_rows=processed, total_rows=total)

    try:
        filename = register_import.original_filename or register_import.file.name
        register_import.file.open("rb")
        try:
            if apply:
                result = import_register(
                    register_import.file,
                    filename=filename,
                    user=register_import.uploaded_by,
                    check_progress=save_progress,
                )
                report = result.report
                if result.saved:
                    register_import.status = status.DONE
                else:
                    register_import.status = status.INVALID
            else:
                report = check_register(register_import.file, filename=filename, progress=save_progress)
                register_import.status = status.VALID if report.is_valid else status.INVALID
        finally:
            register_import.file.close()
        _store_report(register_import, report)
    except Exception as error:  # the import must end in a final state, whatever happened
        logger.exception("Register import %s failed", register_import.pk)
        register_import.status = status.FAILED
        register_import.failure = _(
            "The register could not be processed because of an unexpected error (%(error)s). Nothing was "
            "saved. Please tell the platform operator; the file can be uploaded again later."
        ) % {"error": type(error).__name__}
    register_import.finished_at = timezone.now()
    _save_outcome(register_import)
    return register_import


_OUTCOME_FIELDS = [
    "status",
    "total_rows",
    "processed_rows",
    "error_count",
    "errors",
    "summary",
    "failure",
    "finished_at",
]


def _save_outcome(register_import: RegisterImport) -> None:
    """Save the final state, retrying once on a fresh connection: when the failure was the
    database connection itself, the first attempt fails too, and the status must not stay on
    CHECKING/IMPORTING. Call run_register_import outside any transaction."""
    for attempt in (1, 2):
        try:
            register_import.save(update_fields=_OUTCOME_FIELDS)
            return
        except DatabaseError:
            logger.exception("Could not record the outcome of register import %s", register_import.pk)
            if attempt == 1 and not connection.in_atomic_block:
                connection.close()  # the next query opens a new connection


def _store_report(register_import: RegisterImport, report: CheckReport) -> None:
    register_import.total_rows = report.total_rows
    register_import.processed_rows = report.total_rows
    register_import.error_count = report.error_count
    register_import.errors = [problem.as_dict() for problem in report.errors[:MAX_STORED_ERRORS]]
    summary = report.summary()
    if report.error_count > len(register_import.errors):
        summary["errors_note"] = _(
            "Only the first %(shown)d of %(total)d problems are listed. Correct them and check the file again "
            "to see the rest."
        ) % {"shown": len(register_import.errors), "total": report.error_count}
    summary["warnings_list"] = [problem.as_dict() for problem in report.warnings[:MAX_STORED_WARNINGS]]
    register_import.summary = summary


# --- Templates -----------------------------------------------------------------------------------


def template_headers() -> list[str]:
    return [column.header for column in COLUMNS]


def build_template_xlsx(destination) -> None:
    """Write the downloadable .xlsx template: the register sheet first (the only one imported),
    its code columns formatted as text so Excel keeps leading zeros, and an instructions sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sổ đăng ký OCOP"
    sheet.append(template_headers())
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="FFF2CC")
    text_columns = {"register_code", "tax_code", "commune_code", "commune_code_2025", "decision_number"}
    date_columns = {"decision_date", "expires_on"}
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if column.required:
            cell.fill = fill
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(14, min(40, len(column.header) + 6))
        if column.key in text_columns:
            sheet.column_dimensions[letter].number_format = "@"
        elif column.key in date_columns:
            sheet.column_dimensions[letter].number_format = "DD/MM/YYYY"
    sheet.freeze_panes = "A2"
    choices = {
        "stars": '"3,4,5"',
        "producer_kind": '"Hợp tác xã,Doanh nghiệp,Tổ hợp tác,Hộ kinh doanh"',
        "certificate_kind": '"Đánh giá lần đầu,Đánh giá lại,Nâng hạng"',
    }
    for key, formula in choices.items():
        letter = get_column_letter([column.key for column in COLUMNS].index(key) + 1)
        validation = DataValidation(type="list", formula1=formula, allow_blank=True)
        validation.add(f"{letter}2:{letter}20000")
        sheet.add_data_validation(validation)

    guide = workbook.create_sheet("Hướng dẫn")
    guide.append(["Cột", "Bắt buộc", "Cách ghi", "Tên cột tiếng Anh cũng được nhận"])
    for cell in guide[1]:
        cell.font = bold
    for column in COLUMNS:
        english = next((alias for alias in column.aliases if alias.isascii()), column.key)
        guide.append([column.header, "Có" if column.required else "", column.help, english])
    guide.append([])
    guide.append(["Chỉ trang tính đầu tiên được nhập. Dòng 1 là tiêu đề; mỗi dòng sau là một sản phẩm."])
    guide.append(["Mô tả đầy đủ: docs/register-format.md."])
    for letter, width in zip("ABCD", (22, 10, 90, 28), strict=True):
        guide.column_dimensions[letter].width = width
    workbook.save(destination)


def build_template_csv(destination) -> None:
    """The .csv template: headers only, UTF-8 with a BOM so that Excel shows Vietnamese letters."""
    with open(destination, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerow(template_headers())


def iter_problem_lines(problems: Iterable[RowProblem]) -> Iterator[str]:
    """Problems as lines for a terminal or a log: 'Dòng 5, cột "Số sao": …'."""
    for problem in problems:
        yield _('Row %(row)d, column "%(column)s": %(message)s') % {
            "row": problem.row_number,
            "column": problem.column_header,
            "message": problem.message,
        }


__all__ = [
    "COLUMNS",
    "CheckReport",
    "ImportResult",
    "RegisterFileError",
    "RowProblem",
    "build_template_csv",
    "build_template_xlsx",
    "check_register",
    "import_register",
    "iter_problem_lines",
    "run_register_import",
    "template_headers",
]
