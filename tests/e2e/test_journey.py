"""The whole loop in a real browser, as its people do it: the trade department imports the
province's OCOP register; a cooperative member completes one of its products on a phone and
sends it for review; the officer approves it; the member connects a Shopee shop and the product
goes live there; a visitor finds it by searching without accents; a buyer orders it on the
marketplace; the officer's coverage dashboard moves; and a visitor buys another cooperative's
product directly on the site through the Stripe sandbox, which counts too.

Real pieces throughout: Debian's chromium (Playwright), the live server, a Celery worker, the
marketplace sandboxes over HTTP with their webhooks. Screenshots of every step go to
$E2E_ARTIFACTS (default var/e2e-artifacts/). Run alone with `pytest tests/e2e -q`.
"""

import datetime
import logging
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from PIL import Image, ImageDraw
from wagtail.admin.forms.auth import LoginForm

from catalog.forms import CertificateForm, OfferForm, ProductContentForm
from catalog.models import Certificate, Product, RegisterEntry
from catalog.taxonomy import load_ocop_taxonomy
from cooperatives.models import Cooperative
from cooperatives.units import load_administrative_units
from marketplace_sync.categories import load_category_mappings
from marketplace_sync.models import Channel, Listing, Order
from tests import factories
from tests.marketplace_sync.conftest import Sandboxes

from .conftest import DESKTOP, PHONE, require_browser

require_browser()  # skips this module (or fails it when E2E_REQUIRED=1) without a browser

from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = [
    # A live server, a worker and the sandboxes each hold their own connection: real commits.
    # serialized_rollback: data migrations (groups, channels, the workflow, the site's pages)
    # survive the flush at the end.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.celery_worker,
    pytest.mark.urls("tests.e2e.urls"),
]

REGISTER_FILE = Path(settings.OCOP_DATA_DIR) / "yenbai_ocop_products.csv"  # what the admin import takes
REGISTER_ROWS = 88
# One real product of the register, by a producer the register names.
REGISTER_CODE = "YB-OCOP-041"
PRODUCT_NAME = "Gạo nếp tan Tú Lệ"
COOPERATIVE_NAME = "HTX Dịch vụ nông nghiệp Tú Lệ"
MEMBER_USERNAME, MEMBER_PASSWORD = "htx.tule", "portal-pass-123"  # tests.factories.make_portal_user
OFFICER_PASSWORD = "staff-pass-123"  # tests.factories.make_staff_user
PRICE, STOCK, BUFFER = "85.000", 40, 2
# A re-rating decision dated a month ago, so that the test does not expire with a real certificate.
DECISION_NUMBER = "1234/QĐ-UBND"
DECISION_DATE = timezone.localdate() - datetime.timedelta(days=30)
DESCRIPTION = (
    "Gạo nếp tan Tú Lệ trồng trên ruộng bậc thang dưới chân đèo Khau Phạ, tưới bằng nước suối nguồn; "
    "hạt tròn, trắng đục, đồ xôi dẻo thơm, để nguội vẫn mềm. Túi 2 kg hút chân không."
)
# Another cooperative's product, bought directly on the site through the Stripe sandbox.
DIRECT_CODE = "YB-OCOP-005"  # Chè Bát tiên đặc sản Hưng Khánh, HTX Chè Khe Năm
DIRECT_FIELDS = ("sells_direct", "bank_account_name", "bank_account_number", "bank_name")
DESCRIPTION_TEA = (
    "Chè Bát tiên Hưng Khánh hái một tôm hai lá, sao sấy thủ công; nước xanh vàng sáng, vị chát dịu, "
    "hậu ngọt. Gói 100 g."
)
logger = logging.getLogger(__name__)
ACTION_TIMEOUT_MS = 20_000  # a click, a page, a form: generous for 2 busy cores
WORKER_TIMEOUT_MS = 90_000  # the register import, a sync through the marketplace's review, an order


def without_accents(text: str) -> str:
    """What a visitor types on a keyboard without Vietnamese input: no marks, đ as d."""
    letters = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(letter for letter in letters if not unicodedata.combining(letter))


SEARCH_WITHOUT_ACCENTS = without_accents(PRODUCT_NAME)  # "gao nep tan tu le"


def t(message: str, **values) -> str:
    """The text the site shows for `message` (its default language is Vietnamese)."""
    with translation.override(settings.LANGUAGE_CODE):
        text = gettext(message)
    return text % values if values else text


@dataclass
class Journey:
    """What the steps share: the browser, the server, who is signed in where, and the figures read."""

    base_url: str
    browser: Browser
    sandboxes: Sandboxes
    artifacts: Path
    officer: object  # the trade department officer (tests/conftest.py)
    officer_page: Page | None = None
    member_page: Page | None = None
    visitor_page: Page | None = None
    cooperative: Cooperative | None = None
    product: Product | None = None
    coverage_before: dict = field(default_factory=dict)
    coverage_after: dict = field(default_factory=dict)
    direct_product: Product | None = None
    shots: int = 0

    def shot(self, page: Page, name: str) -> Path:
        """A full-page screenshot in the artefacts folder, numbered in the journey's order."""
        self.shots += 1
        path = self.artifacts / f"{self.shots:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def new_page(self, **context_options) -> Page:
        """A new browser context (its own cookies: another person) and its page."""
        context = self.browser.new_context(base_url=self.base_url, **context_options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        return context.new_page()

    def pages(self) -> dict[str, Page]:
        people = {"officer": self.officer_page, "member": self.member_page, "visitor": self.visitor_page}
        return {who: page for who, page in people.items() if page is not None}

    def close(self, *, failed: bool) -> None:
        for who, page in self.pages().items():
            if failed:
                try:
                    self.shot(page, f"FAILED-{who}")
                except Exception as error:  # a broken page must not hide the test's own failure
                    logger.warning("No failure screenshot of the %s's page: %s", who, error)
            page.context.close()


# --- Helpers -----------------------------------------------------------------------------------------------


def sign_in_admin(page: Page, user, password: str) -> None:
    page.goto(reverse("wagtailadmin_login"))
    page.get_by_label(label(LoginForm, "username")).fill(user.get_username())
    page.get_by_label(label(LoginForm, "password")).fill(password)
    page.get_by_role("button", name=t("Sign in")).click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def reload_until(page: Page, locator, *, timeout_ms: int = WORKER_TIMEOUT_MS, message: str) -> None:
    """Reload until `locator` shows: what a person does while a worker or a marketplace acts."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        if locator.count() and locator.first.is_visible():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message} on {page.url}")
        page.wait_for_timeout(1000)
        page.reload()


def label(form_class, field_name: str) -> re.Pattern:
    """A form field's label as the page shows it (the field's accessible name starts with it)."""
    with translation.override(settings.LANGUAGE_CODE):
        text = str(form_class()[field_name].label)
    return re.compile(rf"^\s*{re.escape(text)}")


PERCENT = re.compile(r"(\d+(?:[.,]\d+)?)\s*%")


def read_coverage(page: Page) -> dict[str, float | None]:
    """The dashboard's headline cards: percentage listed, and with sales (ever), as shown."""
    figures = {}
    for key, caption in (("listed", "listed on e-commerce"), ("with_sales", "with sales (ever)")):
        card = page.locator(".coverage__card").filter(has_text=t(caption)).first
        number = card.locator(".coverage__number").inner_text().strip()
        match = PERCENT.search(number)
        figures[key] = float(match.group(1).replace(",", ".")) if match else None
    return figures


def photo(tmp_path: Path, name: str, size: tuple[int, int], colour: tuple[int, int, int], fmt: str) -> Path:
    """A real photo file as a phone would have it (drawn, so that it is not one flat colour)."""
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.ellipse((width // 6, height // 6, width * 5 // 6, height * 5 // 6), fill=(245, 240, 225))
    draw.rectangle((width // 3, height // 3, width * 2 // 3, height * 2 // 3), outline=(90, 60, 30), width=12)
    path = tmp_path / name
    image.save(path, fmt, **({"quality": 88} if fmt == "JPEG" else {}))
    return path


# --- The journey, one function per step ---------------------------------------------------------------------


def step_officer_imports_register(journey: Journey) -> None:
    """1. The officer uploads the real register, reads the check, imports it and follows the
    worker's progress; then notes the coverage figures before any product is on sale."""
    page = journey.officer_page = journey.new_page(**DESKTOP)
    sign_in_admin(page, journey.officer, OFFICER_PASSWORD)
    page.get_by_role("link", name=t("Import register")).click()
    expect(page.get_by_role("heading", name=t("Import the OCOP register"))).to_be_visible()
    page.get_by_label(t("Register file (XLSX or CSV)")).set_input_files(REGISTER_FILE)
    journey.shot(page, "officer-register-upload")
    page.get_by_role("button", name=t("Upload and check")).click()
    expect(page.get_by_text(t("File received. It is being checked; nothing is saved yet."))).to_be_visible()
    journey.shot(page, "officer-register-checking")  # the page refreshes itself while the worker checks
    import_now = page.get_by_role("button", name=t("Import now"))
    expect(import_now).to_be_visible(timeout=WORKER_TIMEOUT_MS)
    journey.shot(page, "officer-register-checked")
    register_import = page.get_by_role("main")
    expect(register_import).to_contain_text(f"{t('Rows')}: {REGISTER_ROWS}")
    expect(register_import).to_contain_text(f"{t('New products')}: {REGISTER_ROWS}")
    assert not Product.objects.exists()  # checked, nothing saved yet

    import_now.click()
    expect(page.get_by_text(t("Import started. This page follows its progress."))).to_be_visible()
    journey.shot(page, "officer-register-importing")
    expect(page.get_by_text(t("Imported"), exact=True)).to_be_visible(timeout=WORKER_TIMEOUT_MS)
    journey.shot(page, "officer-register-imported")
    assert Product.objects.count() == REGISTER_ROWS

    page.get_by_role("link", name=t("Coverage"), exact=True).click()
    journey.coverage_before = read_coverage(page)
    journey.shot(page, "officer-coverage-before")


def step_member_completes_product(journey: Journey, tmp_path: Path) -> None:
    """2. On a phone, the member signs in, opens the imported product, writes its details, adds
    photos, price, stock and the certificate, and sends it for review."""
    page = journey.member_page = journey.new_page(**PHONE)
    page.goto(reverse("portal:login"))
    page.get_by_label(t("Username")).fill(MEMBER_USERNAME)
    page.get_by_label(t("Password")).fill(MEMBER_PASSWORD)
    journey.shot(page, "member-sign-in")
    page.get_by_role("button", name=t("Sign in")).click()
    expect(page.get_by_text(COOPERATIVE_NAME).first).to_be_visible()

    page.get_by_role("navigation").get_by_role("link", name=t("Products"), exact=True).click()
    page.get_by_role("link", name=re.compile(re.escape(PRODUCT_NAME))).click()
    expect(page.get_by_role("heading", name=PRODUCT_NAME)).to_be_visible()
    journey.shot(page, "member-product-imported")

    page.get_by_role("link", name=t("Details"), exact=True).click()
    page.get_by_label(label(ProductContentForm, "description")).fill(DESCRIPTION)
    page.get_by_label(label(ProductContentForm, "weight_grams")).fill("2100")
    page.get_by_label(label(ProductContentForm, "package_length_cm")).fill("30")
    page.get_by_label(label(ProductContentForm, "package_width_cm")).fill("20")
    page.get_by_label(label(ProductContentForm, "package_height_cm")).fill("8")
    page.get_by_role("button", name=t("Save draft")).click()
    expect(
        page.get_by_text(t("Saved. The changes are a draft until the trade department approves them."))
    ).to_be_visible()

    page.get_by_role("link", name=t("Photos"), exact=True).click()
    photos = [
        photo(tmp_path, "goi-gao-nep.jpg", (1200, 900), (196, 160, 98), "JPEG"),
        photo(tmp_path, "hat-gao.png", (800, 800), (232, 226, 205), "PNG"),
    ]
    page.get_by_label(t("Or choose saved photos")).set_input_files(photos)
    page.get_by_role("button", name=t("Upload"), exact=True).click()
    expect(page.get_by_text(t("%(count)d photo(s) added.", count=2))).to_be_visible()
    expect(page.get_by_role("img", name=PRODUCT_NAME)).to_have_count(2)
    journey.shot(page, "member-photos")

    page.get_by_role("link", name=t("Price and stock"), exact=True).click()
    page.get_by_label(label(OfferForm, "price_vnd")).fill(PRICE)
    page.get_by_label(label(OfferForm, "stock")).fill(str(STOCK))
    page.get_by_label(label(OfferForm, "safety_buffer")).fill(str(BUFFER))
    page.get_by_role("button", name=t("Save price and stock")).click()
    expect(page.get_by_text(t("Price and stock saved. They apply at once, without review."))).to_be_visible()

    # The register knows this product's certificate only by its year, which is not enough to
    # sell (the checklist asks for the scan): the member enters the latest decision with its scan.
    page.get_by_role("link", name=t("Certificates"), exact=True).click()
    page.get_by_label(label(CertificateForm, "stars")).select_option("4")
    page.get_by_label(label(CertificateForm, "decision_number")).fill(DECISION_NUMBER)
    page.get_by_label(label(CertificateForm, "issuing_body")).fill("UBND tỉnh Yên Bái")
    page.get_by_label(label(CertificateForm, "decision_date")).fill(DECISION_DATE.isoformat())
    page.get_by_label(label(CertificateForm, "kind")).select_option(Certificate.Kind.RE_RATING.value)
    page.get_by_label(label(CertificateForm, "scan")).set_input_files(
        photo(tmp_path, "giay-chung-nhan.jpg", (1240, 1754), (250, 250, 245), "JPEG")
    )
    page.get_by_role("button", name=t("Save the certificate")).click()
    expect(
        page.get_by_text(t("Certificate saved. The trade department will check it against the decision."))
    ).to_be_visible()
    journey.shot(page, "member-certificate")

    page.get_by_role("link", name=t("Overview"), exact=True).click()
    expect(page.get_by_role("heading", name=t("Before it can go on sale"))).to_be_visible()
    journey.shot(page, "member-before-review")
    page.get_by_role("button", name=t("Send for review")).click()
    expect(
        page.get_by_text(t("Sent for review. The trade department will approve it or tell you what to change."))
    ).to_be_visible()
    journey.shot(page, "member-sent-for-review")


def step_officer_approves(journey: Journey) -> None:
    """3. The officer opens the product from "Awaiting your review", verifies the member's
    certificate against the decision and approves the product (Wagtail's workflow)."""
    page = journey.officer_page
    page.goto("/admin/")
    awaiting = page.locator("section").filter(has=page.get_by_role("heading", name=t("Awaiting your review")))
    journey.shot(page, "officer-awaiting-review")
    awaiting.get_by_role("link", name=PRODUCT_NAME).click()
    expect(page.get_by_text(DECISION_NUMBER)).to_be_visible()
    journey.shot(page, "officer-product-in-review")

    certificate = Certificate.objects.get(product=journey.product, decision_number=DECISION_NUMBER)
    verify = page.get_by_role("button", name=t("Verify"), exact=True)
    verify.click()
    verified = t("Certificate %(number)s of %(product)s verified.", number=DECISION_NUMBER, product=PRODUCT_NAME)
    expect(page.get_by_text(verified)).to_be_visible()
    certificate.refresh_from_db()
    assert certificate.verified_at is not None and certificate.verified_by == journey.officer

    journey.shot(page, "officer-certificate-verified")

    # Approve right there, on the product's edit page (More actions → Approve): an unchanged
    # form must approve the member's version, not save a copy of it and restart the review.
    page.get_by_role("button", name=t("More actions")).click()
    page.get_by_role("button", name=t("Approve"), exact=True).click()
    page.goto("/admin/")
    expect(page.get_by_role("link", name=t("Coverage"), exact=True)).to_be_visible()  # the dashboard
    expect(awaiting.get_by_role("link", name=PRODUCT_NAME)).to_have_count(0)  # no longer awaiting review
    journey.shot(page, "officer-approved")
    journey.product.refresh_from_db()
    assert journey.product.live and journey.product.current_workflow_state is None


def step_member_connects_shopee(journey: Journey) -> None:
    """4. The member connects the cooperative's Shopee shop (Shopee's consent page, then back);
    the approved product is sent there, passes the marketplace's review and goes live."""
    page = journey.member_page
    shopee = Channel.objects.get(code="shopee").name
    page.get_by_role("navigation").get_by_role("link", name=t("Shops"), exact=True).click()
    journey.shot(page, "member-shops")
    page.get_by_role("button", name=t("Connect the %(channel)s shop", channel=shopee)).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(journey.sandboxes.url('shopee'))}/"))
    page.get_by_label("Tên cửa hàng").fill(f"{COOPERATIVE_NAME} trên Shopee")  # the sandbox's own page
    journey.shot(page, "shopee-consent")
    page.get_by_role("button", name="Đồng ý cấp quyền").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(journey.base_url)}/portal/"))
    connected = t("The %(channel)s shop is connected. Approved products are being sent to it.", channel=shopee)
    expect(page.get_by_text(connected)).to_be_visible()
    journey.shot(page, "member-shop-connected")

    page.get_by_role("navigation").get_by_role("link", name=t("Products"), exact=True).click()
    page.get_by_role("link", name=re.compile(re.escape(PRODUCT_NAME))).click()
    with translation.override(settings.LANGUAGE_CODE):
        live = str(Listing.Reported.LIVE.label)
    listing_card = page.locator(".card").filter(has_text=shopee)
    reload_until(page, listing_card.get_by_text(live, exact=True), message="the Shopee listing to go live")
    expect(listing_card.get_by_role("link", name=t("See it on the marketplace"))).to_be_visible()
    journey.shot(page, "member-product-live-on-shopee")


def step_visitor_finds_product(journey: Journey) -> None:
    """5. A visitor types the name without accents into the search, opens the product and sees
    the button to buy it on Shopee, which opens the product on the marketplace."""
    page = journey.visitor_page = journey.new_page(**DESKTOP)
    page.goto("/")
    search = page.get_by_role("searchbox", name=t("Search"), exact=True)  # in the site's header
    search.fill(SEARCH_WITHOUT_ACCENTS)
    search.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(f"/search/?q={quote_plus(SEARCH_WITHOUT_ACCENTS)}")))
    journey.shot(page, "visitor-search")
    page.get_by_role("link", name=PRODUCT_NAME, exact=True).click()
    expect(page.get_by_role("heading", name=PRODUCT_NAME)).to_be_visible()
    buy = page.get_by_role("link", name=t("Buy on %(channel)s", channel="Shopee"))
    expect(buy).to_be_visible()
    journey.shot(page, "visitor-product-page")
    listing = Listing.objects.get(product=journey.product, channel__code="shopee")
    expect(buy).to_have_attribute("href", listing.external_url)
    with page.expect_popup() as popup:
        buy.click()
    marketplace = popup.value
    expect(marketplace.get_by_text(PRODUCT_NAME).first).to_be_visible()
    journey.shot(marketplace, "visitor-on-shopee")
    marketplace.close()


def step_marketplace_order_arrives(journey: Journey) -> None:
    """6. A buyer orders it on the sandbox marketplace (the portal's sandbox buyer); the order
    comes back by webhook through the worker and the stock drops."""
    page = journey.member_page
    page.get_by_role("navigation").get_by_role("link", name=t("Orders"), exact=True).click()
    expect(page.get_by_text(t("No orders yet."))).to_be_visible()
    page.get_by_role(
        "button", name=t("Buy 1 × %(product)s on %(channel)s", product=PRODUCT_NAME, channel="Shopee")
    ).click()
    ordered = t(
        "A sandbox buyer ordered 1 × %(product)s on %(channel)s. The order appears here in a few seconds.",
        product=PRODUCT_NAME,
        channel="Shopee",
    )
    expect(page.get_by_text(ordered)).to_be_visible()
    order_card = page.locator(".card").filter(has_text=re.compile(r"^\s*Shopee · "))
    reload_until(page, order_card, message="the Shopee order")
    expect(order_card.first).to_contain_text(f"1 × {PRODUCT_NAME}")
    journey.shot(page, "member-order-arrived")
    order = Order.objects.get(cooperative=journey.cooperative)
    assert order.is_sale and order.lines.get().product_id == journey.product.pk
    journey.product.offer.refresh_from_db()
    assert journey.product.offer.stock == STOCK - 1


def step_coverage_rises(journey: Journey) -> None:
    """7. The officer's coverage dashboard counts the product as listed and with sales: both
    headline figures are higher than after the import, and the drill-down names the product."""
    page = journey.officer_page
    page.get_by_role("link", name=t("Coverage"), exact=True).click()
    journey.coverage_after = read_coverage(page)
    journey.shot(page, "officer-coverage-after")
    before, after = journey.coverage_before, journey.coverage_after
    assert after["listed"] > (before["listed"] or 0), (before, after)
    assert after["with_sales"] > (before["with_sales"] or 0), (before, after)
    page.locator(".coverage__card").filter(has_text=t("with sales (ever)")).get_by_role("link").first.click()
    expect(page.get_by_role("link", name=PRODUCT_NAME)).to_be_visible()
    journey.shot(page, "officer-coverage-with-sales")


def step_visitor_buys_directly(journey: Journey) -> None:
    """8. The officer switches direct sales on for another cooperative (its bank account for the
    payouts); a visitor buys that cooperative's approved product on the site, pays on the Stripe
    sandbox's checkout page and comes back to the confirmation; the sale is in the seller ledger
    and the coverage figures rise again."""
    product = journey.direct_product
    cooperative = product.cooperative
    page = journey.officer_page
    page.goto(reverse("cooperatives:edit", args=[cooperative.pk]))
    with translation.override(settings.LANGUAGE_CODE):
        fields = {name: str(Cooperative._meta.get_field(name).verbose_name) for name in DIRECT_FIELDS}
    page.get_by_role("checkbox", name=re.compile(re.escape(fields["sells_direct"]), re.I)).check()
    page.get_by_label(re.compile(rf"^\s*{re.escape(fields['bank_account_name'])}", re.I)).fill(cooperative.name)
    page.get_by_label(re.compile(rf"^\s*{re.escape(fields['bank_account_number'])}", re.I)).fill("0201000123456")
    page.get_by_label(re.compile(rf"^\s*{re.escape(fields['bank_name'])}", re.I)).fill("Agribank Văn Chấn")
    journey.shot(page, "officer-direct-sales-on")
    page.get_by_role("button", name=t("Save"), exact=True).click()
    expect(page.get_by_text(cooperative.name).first).to_be_visible()
    cooperative.refresh_from_db()
    assert cooperative.sells_direct

    visitor = journey.visitor_page
    visitor.goto("/")
    search = visitor.get_by_role("searchbox", name=t("Search"), exact=True)
    search.fill(without_accents(product.name))
    search.press("Enter")
    visitor.get_by_role("link", name=product.name, exact=True).click()
    buy = visitor.get_by_role("link", name=t("Buy directly"))
    expect(buy).to_be_visible()
    journey.shot(visitor, "visitor-direct-product")
    buy.click()
    expect(visitor.get_by_role("heading", name=t("Buy directly"))).to_be_visible()
    journey.shot(visitor, "visitor-direct-quantity")
    visitor.get_by_role("button", name=t("Go to payment")).click()
    expect(visitor).to_have_url(re.compile(rf"^{re.escape(journey.sandboxes.url('stripe'))}/c/pay/"))
    visitor.get_by_label("Email").fill("khach.hang@example.vn")
    visitor.get_by_label("Họ tên người nhận").fill("Nguyễn Thị Lan")
    visitor.get_by_label("Số điện thoại").fill("0912345678")
    visitor.get_by_label("Địa chỉ giao hàng").fill("12 Hoàng Hoa Thám, Ba Đình, Hà Nội")
    journey.shot(visitor, "stripe-checkout")
    visitor.get_by_role("button", name="Thanh toán", exact=True).click()
    expect(visitor.get_by_role("heading", name=t("Thank you: your payment is confirmed"))).to_be_visible()
    journey.shot(visitor, "visitor-direct-paid")
    order = Order.objects.get(channel__code="showcase")
    assert order.is_sale and order.lines.get().product_id == product.pk

    page.goto(reverse("direct_sales_ledger"))
    expect(page.get_by_role("row").filter(has_text=cooperative.name).first).to_contain_text(
        f"{product.offer.price_vnd:,}".replace(",", ".")
    )
    journey.shot(page, "officer-seller-ledger")
    page.get_by_role("link", name=t("Coverage"), exact=True).click()
    figures = read_coverage(page)
    journey.shot(page, "officer-coverage-after-direct-sale")
    assert figures["with_sales"] > journey.coverage_after["with_sales"], (journey.coverage_after, figures)
    assert figures["listed"] > journey.coverage_after["listed"], (journey.coverage_after, figures)


def approved_product_for_direct_sale(officer) -> Product:
    """Setup, not journey: a second cooperative's product already completed and approved (the
    journey's steps 2–3 show how), with a price and stock, whose cooperative does not sell
    directly yet."""
    from catalog import services as catalog_services
    from tests.marketplace_sync.conftest import approve

    product = RegisterEntry.objects.select_related("product__cooperative").get(register_code=DIRECT_CODE).product
    member = factories.make_portal_user("htx.khenam", product.cooperative, full_name="Hoàng Văn Khánh")
    catalog_services.product_update_content(
        product=product,
        user=member,
        changes={"description": DESCRIPTION_TEA, "weight_grams": 100, "package_length_cm": 20,
                 "package_width_cm": 12, "package_height_cm": 8},
    )  # fmt: skip
    catalog_services.product_add_photo(product=product, user=member, upload=factories.jpeg_upload("che.jpg"))
    catalog_services.offer_update(
        product=product, user=member, change=catalog_services.OfferChange(price_vnd=150_000, stock=12, safety_buffer=2)
    )
    factories.add_valid_certificate(product, stars=4)
    return approve(product, officer)


# --- The test -----------------------------------------------------------------------------------------------


def test_from_the_register_to_a_sale_in_the_browser(
    live_server, e2e_browser, sandboxes, worker, officer, artifacts, tmp_path
):
    # Reference data, as `make run` loads it: administrative units, the OCOP classification,
    # and the seed mapping from OCOP groups to each marketplace's categories.
    load_administrative_units()
    load_ocop_taxonomy()
    load_category_mappings()
    journey = Journey(live_server.url, e2e_browser, sandboxes, artifacts, officer)
    failed = True
    try:
        step_officer_imports_register(journey)
        # An officer creates the member's portal account: setup, not part of the journey.
        entry = RegisterEntry.objects.select_related("product__cooperative").get(register_code=REGISTER_CODE)
        journey.product, journey.cooperative = entry.product, entry.product.cooperative
        assert (journey.product.name, journey.cooperative.name) == (PRODUCT_NAME, COOPERATIVE_NAME)
        factories.make_portal_user(MEMBER_USERNAME, journey.cooperative, full_name="Lò Thị Mai")

        step_member_completes_product(journey, tmp_path)
        step_officer_approves(journey)
        step_member_connects_shopee(journey)
        step_visitor_finds_product(journey)
        step_marketplace_order_arrives(journey)
        step_coverage_rises(journey)
        journey.direct_product = approved_product_for_direct_sale(officer)
        step_visitor_buys_directly(journey)
        failed = False
    finally:
        journey.close(failed=failed)
