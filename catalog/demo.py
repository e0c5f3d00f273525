"""The demo: the real Yên Bái register, loaded honestly, plus a few products taken through the
real flow so that a newcomer sees a living platform.

Two kinds of content, never mixed:
- **Register facts** come from `data/yenbai_ocop_products.csv` (88 real products, each with a
  cited source). The file is a research compilation, not an official register: decisions are
  written in free text ("QĐ 2585/QĐ-UBND, GCN từ 28/12/2023"). `research_rows_as_register`
  turns each row into our register format, reading a decision number, date and issuing body
  only where the text states them; what the text does not state stays empty (unknown).
- **Illustrative content** (descriptions, weights, prices, stock, placeholder photos) is what
  a demo member types in to show the flow. It is labelled illustrative wherever it shows.
"""

import csv
import datetime
import io
import re
from dataclasses import dataclass
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFont

from cooperatives.text import clean_text

DECISION_NUMBER = re.compile(r"QĐ\s*(\d+\s*/\s*QĐ-[A-ZĐ]+)", re.IGNORECASE)
DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
ISSUER = re.compile(r"\((UBND[^)]*)\)")
RE_RATED = re.compile(r"re-evaluated|đánh giá lại", re.IGNORECASE)

REGISTER_HEADERS = [
    "Mã sổ đăng ký",
    "Tên sản phẩm",
    "Chủ thể",
    "Loại hình chủ thể",
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
    "Loại đánh giá",
    "Nguồn",
    "Căn cứ",
    "Ghi chú",
]


def _decision(evidence: str) -> tuple[str, datetime.date | None]:
    number_match = DECISION_NUMBER.search(evidence)
    number = re.sub(r"\s+", "", number_match.group(1)) if number_match else ""
    date_match = DATE.search(evidence)
    date = None
    if number and date_match:
        day, month, year = (int(part) for part in date_match.groups())
        date = datetime.date(year, month, day)
    return number, date


def research_rows_as_register(path: Path) -> list[dict]:
    """Rows of the research file in the register format (see docs/register-format.md)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # An issuing body named once for a decision holds for every product of that decision.
    issuers = {}
    for row in rows:
        number, _date = _decision(row["decision_or_evidence"])
        issuer = ISSUER.search(row["decision_or_evidence"])
        if number and issuer:
            issuers[number] = clean_text(issuer.group(1))
    register = []
    for row in rows:
        evidence = row["decision_or_evidence"]
        number, date = _decision(evidence)
        year = row["certified_year"]
        if date and year and int(year) != date.year:
            year = str(date.year)  # the decision's own date wins over a year reported elsewhere
        register.append(
            {
                "Mã sổ đăng ký": row["id"],
                "Tên sản phẩm": row["name_vi"],
                "Chủ thể": row["subject_name"],
                "Loại hình chủ thể": row["subject_type"],
                "Huyện": row["district"],
                "Xã": row["commune"],
                "Mã xã": row["commune_code_pre2025"],
                "Mã xã 2025": row["commune_code_2025"],
                "Số sao": row["stars"],
                "Nhóm sản phẩm": row["product_group"],
                "Bộ sản phẩm": row["subgroup"],
                "Số quyết định": number,
                "Cơ quan cấp": issuers.get(number, ""),
                "Ngày quyết định": date.strftime("%d/%m/%Y") if date else "",
                "Năm công nhận": year,
                "Loại đánh giá": "Đánh giá lại" if RE_RATED.search(evidence) else "",
                "Nguồn": row["source_url"],
                "Căn cứ": evidence,
                "Ghi chú": row["notes"],
            }
        )
    return register


def register_csv(rows: list[dict]) -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REGISTER_HEADERS)
    writer.writeheader()
    writer.writerows(rows)
    return SimpleUploadedFile("so-dang-ky-ocop-yen-bai.csv", buffer.getvalue().encode("utf-8"), "text/csv")


# --- Illustrative content ------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoProduct:
    """A register product the demo takes through the flow, and what happens to it."""

    register_code: str
    outcome: str  # "approve", "reject" or "wait"
    weight_grams: int
    price_vnd: int
    stock: int
    colour: tuple[int, int, int]
    review_comment: str = ""


def illustrative_description(name: str, cooperative: str) -> str:
    return (
        f"[Nội dung minh hoạ cho bản demo] {name} của {cooperative}. Đoạn mô tả này do hệ thống tạo "
        "để minh hoạ quy trình đưa sản phẩm lên sàn; hợp tác xã sẽ thay bằng mô tả thật: nguyên liệu, "
        "cách làm, hương vị, cách dùng và cách bảo quản."
    )


def _font(size: int):
    for path in (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    ):
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def placeholder_photo(name: str, colour: tuple[int, int, int], index: int) -> SimpleUploadedFile:
    """A 1000×1000 JPEG that says plainly it is a placeholder, not a photo of the product."""
    image = Image.new("RGB", (1000, 1000), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 960, 960), outline=(255, 255, 255), width=8)
    draw.text((500, 330), "ẢNH MINH HOẠ", fill=(255, 255, 255), font=_font(72), anchor="mm")
    draw.text((500, 420), "(demo placeholder)", fill=(255, 255, 255), font=_font(40), anchor="mm")
    words, lines, line = name.split(), [], ""
    for word in words:
        if len(line) + len(word) > 22:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    for offset, text in enumerate(lines[:4]):
        draw.text((500, 560 + offset * 70), text, fill=(255, 255, 255), font=_font(52), anchor="mm")
    draw.text((500, 900), f"{index}", fill=(255, 255, 255), font=_font(40), anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return SimpleUploadedFile(f"minh-hoa-{index}.jpg", buffer.getvalue(), "image/jpeg")
