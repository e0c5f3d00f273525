"""`manage.py load_demo`: the real Yên Bái register and a few products taken through the flow.

It lives in cms, the app that may use every other one: the demo spans cooperatives, the
catalog and the marketplaces.

Safe to run again: the register import changes nothing the second time, accounts are reused,
and the demo flow only touches products it has not touched before. Refuses to run where
settings.OCOP_ALLOW_DEMO_DATA is false (production), because it creates accounts with
passwords printed on the terminal.
"""

import datetime
import io
import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail.log_actions import LogContext

from catalog import demo, register, services
from catalog.models import Product, RegisterEntry
from catalog.taxonomy import load_ocop_taxonomy
from cooperatives.audit import acting_for
from cooperatives.models import Cooperative, Membership
from cooperatives.roles import OFFICERS, SITE_EDITORS, VIEWERS
from cooperatives.services import generate_password, membership_add
from cooperatives.units import load_administrative_units
from marketplace_sync import direct_sales

# The register products the demo completes: certificates whose decision date the sources
# state (QĐ 2585/QĐ-UBND of 28/12/2023 and QĐ 816/QĐ-UBND of 26/4/2024), plus one without.
MEMBER_PRODUCTS = [
    demo.DemoProduct("YB-OCOP-005", "approve", 100, 150_000, 40, (46, 110, 62)),
    demo.DemoProduct(
        "YB-OCOP-084",
        "reject",
        100,
        120_000,
        25,
        (70, 120, 50),
        review_comment=(
            "Chưa có bản scan giấy chứng nhận OCOP và ngày quyết định. Vui lòng tải bản scan lên mục "
            "“Giấy chứng nhận”, rồi gửi duyệt lại."
        ),
    ),
]
HELPER_PRODUCTS = [
    demo.DemoProduct("YB-OCOP-039", "approve", 200, 95_000, 60, (150, 60, 50)),
    demo.DemoProduct("YB-OCOP-040", "wait", 120, 180_000, 30, (90, 80, 140)),
    demo.DemoProduct("YB-OCOP-041", "approve", 2000, 90_000, 100, (180, 140, 60)),
]

STAFF_ACCOUNTS = [
    ("quantri", "Quản trị hệ thống", None),
    ("canbo.sct", "Trần Thu Hà", OFFICERS),
    ("xem.baocao", "Phạm Minh Tuấn", VIEWERS),
    ("bientap", "Lê Thị Mai", SITE_EDITORS),
]
MEMBER_ACCOUNT = ("htx.khenam", "Hoàng Văn Khánh")
HELPER_ACCOUNT = ("hotro.vanchan", "Lường Thị Hoa", "Tổ công nghệ số cộng đồng xã Văn Chấn")

# The demo's news: facts from ../shared/docs/ocop.md and the progress page's own definitions.
DEMO_NEWS = [
    {
        "title": "Mục tiêu: 100% sản phẩm OCOP lên sàn thương mại điện tử và có giao dịch phát sinh",
        "slug": "muc-tieu-100-san-pham-ocop-len-san",
        "intro": (
            "Trang Tiến độ cho biết bao nhiêu sản phẩm OCOP còn hiệu lực đã lên sàn thương mại điện tử và đã "
            "có đơn hàng, theo từng xã và từng sàn."
        ),
        "body": (
            "<p>Mục tiêu của tỉnh: 100% sản phẩm OCOP lên sàn thương mại điện tử và có giao dịch phát sinh.</p>"
            "<p>Một sản phẩm được tính là đã lên sàn khi có giấy chứng nhận OCOP còn hiệu lực và đang bán trên ít "
            "nhất một kênh được tính (Shopee, Lazada, TikTok Shop, Tiki, Postmart, Voso hoặc trang giới thiệu "
            "sản phẩm của tỉnh). Sản phẩm được tính là có giao dịch khi có ít nhất một đơn hàng đã thanh toán, "
            "đang giao hoặc đã hoàn tất; đơn bị huỷ hoặc trả lại không được tính.</p>"
        ),
    },
    {
        "title": "Giấy chứng nhận OCOP có hiệu lực 36 tháng",
        "slug": "giay-chung-nhan-ocop-hieu-luc-36-thang",
        "date": datetime.date(2023, 12, 28),
        "intro": (
            "Quyết định 2585/QĐ-UBND ngày 28/12/2023 của UBND tỉnh Yên Bái công nhận sáu sản phẩm đạt OCOP 4 sao; "
            "giấy chứng nhận có hiệu lực 36 tháng kể từ ngày quyết định."
        ),
        "body": (
            "<p>Trên trang này, một sản phẩm chỉ hiện số sao khi giấy chứng nhận OCOP của sản phẩm đã được xác "
            "minh và còn hiệu lực. Khi giấy chứng nhận hết hạn, sản phẩm vẫn được giới thiệu nhưng không kèm số "
            "sao cho đến khi được đánh giá lại.</p>"
        ),
    },
]


class Command(BaseCommand):
    help = "Load the real Yên Bái OCOP register and demo accounts, and take a few products through review."

    def handle(self, *args, **options):
        if not settings.OCOP_ALLOW_DEMO_DATA:
            raise CommandError(_("Demo data is disabled in these settings (OCOP_ALLOW_DEMO_DATA is false)."))
        units = load_administrative_units()
        taxonomy = load_ocop_taxonomy()
        call_command("load_marketplace_categories", verbosity=0, stdout=io.StringIO())
        self.stdout.write(
            _("Administrative units and OCOP groups loaded (%(changed)s).")
            % {"changed": _("changed") if units.changed or taxonomy.changed else _("already up to date")}
        )
        logins = self._accounts()
        officer = get_user_model().objects.get(username="canbo.sct")
        self._import_register(officer)
        self._flow(officer)
        self._progress_page()
        self._news()
        self._direct_sales()
        self._print_logins(logins)

    def _progress_page(self):
        """The public progress page under the home page (once)."""
        from cms.models import HomePage, ProgressPage

        home = HomePage.objects.first()
        if home is None or ProgressPage.objects.exists():
            return
        home.add_child(
            instance=ProgressPage(
                title="Tiến độ đưa sản phẩm OCOP lên sàn",
                slug="tien-do",
                intro=(
                    "<p>Mục tiêu của tỉnh: 100% sản phẩm OCOP lên sàn thương mại điện tử và có giao dịch phát sinh.</p>"
                ),
            )
        )

    def _direct_sales(self):
        """The member's cooperatives sell directly on the showcase (Stripe sandbox), so the demo
        shows "Mua trực tiếp". The bank details are marked as the demo's, not the cooperative's."""
        for plan in MEMBER_PRODUCTS:
            cooperative = self._product(plan.register_code).cooperative
            if cooperative.sells_direct:  # an earlier run: make sure its showcase listings exist
                direct_sales.showcase_listings_refresh(
                    Product.objects.filter(cooperative=cooperative).values_list("pk", flat=True)
                )
                continue
            cooperative.sells_direct = True
            cooperative.bank_account_name = cooperative.name
            cooperative.bank_account_number = "DEMO-0000000000"
            cooperative.bank_name = _("Demo bank (illustrative)")
            cooperative.save(update_fields=["sells_direct", "bank_account_name", "bank_account_number", "bank_name"])

    def _news(self):
        """The news section under the home page, with two items on the programme (each once).
        Only facts from the sources: the province's target, and QĐ 2585/QĐ-UBND."""
        from cms.models import HomePage, NewsIndexPage, NewsPage

        home = HomePage.objects.first()
        if home is None:
            return
        index = NewsIndexPage.objects.first()
        if index is None:
            index = home.add_child(instance=NewsIndexPage(title="Tin tức", slug="tin-tuc"))
        for news in DEMO_NEWS:
            if not NewsPage.objects.filter(slug=news["slug"]).exists():
                index.add_child(instance=NewsPage(**{"date": timezone.localdate(), **news}))

    # --- accounts ------------------------------------------------------------------------

    def _password_file(self) -> Path:
        return Path(settings.VAR_DIR) / "demo-logins.txt"

    def _accounts(self) -> dict[str, str]:
        """Create the demo accounts once; their passwords are random and kept in var/ (never
        committed) so that a second `make run` prints the same ones."""
        stored = {}
        path = self._password_file()
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                username, _sep, password = line.partition(" ")
                stored[username] = password
        User = get_user_model()
        logins = {}
        for username, full_name, group in [*STAFF_ACCOUNTS, (*MEMBER_ACCOUNT, None), (*HELPER_ACCOUNT[:2], None)]:
            user, created = User.objects.get_or_create(username=username)
            password = stored.get(username)
            if created or not password or not user.check_password(password):
                password = generate_password()
                user.set_password(password)
            first, _sep, last = full_name.rpartition(" ")
            user.first_name, user.last_name = first, last
            user.is_superuser = user.is_staff = username == "quantri"
            user.save()
            if group:
                user.groups.add(Group.objects.get(name=group))
            logins[username] = password
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{u} {p}\n" for u, p in logins.items()), encoding="utf-8")
        os.chmod(path, 0o600)
        return logins

    # --- register ------------------------------------------------------------------------

    def _import_register(self, officer):
        rows = demo.research_rows_as_register(Path(settings.OCOP_DATA_DIR) / "yenbai_ocop_products.csv")
        upload = demo.register_csv(rows)
        with LogContext(user=officer):
            result = register.import_register(upload, filename=upload.name, user=officer)
        if not result.saved and not result.is_valid:
            for line in register.iter_problem_lines(result.report.errors):
                self.stderr.write(line)
            raise CommandError(_("The demo register did not pass the check; nothing was imported."))
        summary = result.report.summary()
        self.stdout.write(
            _("Register: %(rows)d rows, %(new)d new products, %(unchanged)d unchanged, %(coops)d new cooperatives.")
            % {
                "rows": summary["rows"],
                "new": summary["new_products"],
                "unchanged": summary["unchanged_products"],
                "coops": summary["new_cooperatives"],
            }
        )

    # --- the flow ------------------------------------------------------------------------

    def _product(self, register_code: str) -> Product:
        return RegisterEntry.objects.select_related("product__cooperative").get(register_code=register_code).product

    def _flow(self, officer):
        User = get_user_model()
        member = User.objects.get(username=MEMBER_ACCOUNT[0])
        helper = User.objects.get(username=HELPER_ACCOUNT[0])
        consent = datetime.date(2026, 3, 2)
        for plan in MEMBER_PRODUCTS:
            product = self._product(plan.register_code)
            membership = membership_add(user=member, cooperative=product.cooperative)
            self._complete(plan, product, member, membership, officer)
        for plan in HELPER_PRODUCTS:
            product = self._product(plan.register_code)
            membership = membership_add(
                user=helper,
                cooperative=product.cooperative,
                role=Membership.Role.HELPER,
                helper_organisation=HELPER_ACCOUNT[2],
                consent_date=consent,
                consent_note=_("Demo: consent recorded by the trade department"),
            )
            self._complete(plan, product, helper, membership, officer)

    @transaction.atomic
    def _complete(self, plan: demo.DemoProduct, product: Product, user, membership, officer):
        if product.latest_revision_id is not None:
            return  # taken through the flow by an earlier run (or by a person): leave it alone
        cooperative: Cooperative = product.cooperative
        with acting_for(user=user, membership=membership):
            services.product_update_content(
                product=product,
                user=user,
                changes={
                    "description": demo.illustrative_description(product.name, cooperative.name),
                    "weight_grams": plan.weight_grams,
                    "package_length_cm": 20,
                    "package_width_cm": 12,
                    "package_height_cm": 8,
                },
                is_illustrative=True,
            )
            for index in (1, 2):
                services.product_add_photo(
                    product=product,
                    user=user,
                    upload=demo.placeholder_photo(product.name, plan.colour, index),
                    alt_text=_("Illustrative placeholder, not a photo of the product"),
                    is_illustrative=True,
                )
            services.offer_update(
                product=product,
                user=user,
                change=services.OfferChange(price_vnd=plan.price_vnd, stock=plan.stock, safety_buffer=2),
                is_illustrative=True,
            )
            services.product_submit_for_review(product=product, user=user)
        if plan.outcome == "wait":
            return
        product.refresh_from_db()
        with LogContext(user=officer):
            task_state = product.current_workflow_state.current_task_state.specific
            task_state.task.specific.on_action(task_state, officer, plan.outcome, comment=plan.review_comment)

    def _print_logins(self, logins: dict[str, str]):
        base = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
        roles = {
            "quantri": _("system administrator (everything)"),
            "canbo.sct": _("trade department officer: import, approve, reports"),
            "xem.baocao": _("read-only viewer from another department"),
            "bientap": _("site editor: public pages"),
            MEMBER_ACCOUNT[0]: _("member of HTX Chè Khe Năm"),
            HELPER_ACCOUNT[0]: _("community helper for two cooperatives in Văn Chấn"),
        }
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(_("Demo logins (demo only; passwords kept in var/demo-logins.txt):")))
        for username, password in logins.items():
            door = "/portal/" if username in (MEMBER_ACCOUNT[0], HELPER_ACCOUNT[0]) else "/admin/"
            self.stdout.write(f"  {base}{door:<9} {username:<15} {password}   {roles[username]}")
        self.stdout.write(_("Public site: %(url)s/") % {"url": base})
