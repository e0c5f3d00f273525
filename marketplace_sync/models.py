"""Channels, the cooperatives' shops on them, listings, the sync queue and orders.

A listing keeps apart what we *want* (published or withdrawn) and what the marketplace
*reports* (in review, live, rejected…), with the marketplace's own words next to a Vietnamese
explanation and who must act next. Jobs and attempts are the durable, append-only record of
every push and every HTTP call. Natural keys are database constraints, so a retry, a duplicate
webhook or two workers at once can never create a second listing, order or event.
"""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import OcopCategory, Product
from cooperatives.models import Cooperative

from .crypto import EncryptedTextField


class Channel(models.Model):
    """Where a product can be sold. API channels have a connector; export channels (Postmart,
    Voso) work through spreadsheets and a person; feeds are files marketplaces fetch."""

    class Kind(models.TextChoices):
        API = "api", _("Marketplace API")
        EXPORT = "export", _("Spreadsheet export")
        FEED = "feed", _("Product feed")
        SHOWCASE = "showcase", _("Province showcase")

    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    is_active = models.BooleanField(_("active"), default=True)
    counts_for_coverage = models.BooleanField(
        _("counts for coverage"), default=True, help_text=_("A live listing here counts as “on e-commerce”.")
    )
    requests_per_second = models.FloatField(
        _("requests per second per shop"), default=10, help_text=_("The sync engine stays under this rate.")
    )
    sort_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


class MarketplaceAccount(models.Model):
    """One cooperative's shop on one channel, with its tokens (encrypted at rest)."""

    class Status(models.TextChoices):
        CONNECTING = "connecting", _("Waiting for the marketplace's permission")
        CONNECTED = "connected", _("Connected")
        EXPIRED = "expired", _("Connection expired")
        REVOKED = "revoked", _("Disconnected")
        ERROR = "error", _("Error")

    cooperative = models.ForeignKey(
        Cooperative,
        verbose_name=_("cooperative"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="marketplace_accounts",
        help_text=_("Empty for the province's own feeds."),
    )
    channel = models.ForeignKey(Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="accounts")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.CONNECTING)
    shop_id = models.CharField(_("shop id"), max_length=64, blank=True)
    shop_name = models.CharField(_("shop name"), max_length=255, blank=True)
    shop_url = models.URLField(_("shop address"), blank=True)
    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    access_expires_at = models.DateTimeField(_("access token expires"), null=True, blank=True)
    refresh_expires_at = models.DateTimeField(_("refresh token expires"), null=True, blank=True)
    authorization_expires_at = models.DateTimeField(_("connection expires"), null=True, blank=True)
    extra = models.JSONField(_("marketplace details"), default=dict, blank=True)
    oauth_state = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    orders_synced_until = models.DateTimeField(_("orders fetched up to"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    expiry_warned_at = models.DateTimeField(null=True, blank=True, editable=False)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField(_("connected"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("marketplace account")
        verbose_name_plural = _("marketplace accounts")
        constraints = [
            models.UniqueConstraint(fields=["cooperative", "channel"], name="account_one_per_cooperative_channel"),
            models.UniqueConstraint(
                fields=["channel", "shop_id"], condition=~Q(shop_id=""), name="account_shop_unique_per_channel"
            ),
        ]

    def __str__(self) -> str:
        owner = self.cooperative.name if self.cooperative_id else _("province")
        return f"{self.channel} · {self.shop_name or owner}"

    @property
    def is_connected(self) -> bool:
        return self.status == self.Status.CONNECTED

    def expires_within(self, days: int) -> bool:
        deadline = timezone.now() + datetime.timedelta(days=days)
        return bool(self.authorization_expires_at and self.authorization_expires_at <= deadline)


class CategoryMapping(models.Model):
    """Which marketplace category an OCOP product set goes to. Seeded from the researched
    mapping (data/marketplaces/ocop_category_map.csv); officers correct it in the admin."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="category_mappings")
    ocop_category = models.ForeignKey(
        OcopCategory,
        verbose_name=_("OCOP product set"),
        on_delete=models.CASCADE,
        related_name="marketplace_categories",
        limit_choices_to={"scheme": OcopCategory.Scheme.QD148_2023},
    )
    marketplace_category_id = models.CharField(_("marketplace category id"), max_length=40, blank=True)
    marketplace_category_path = models.CharField(_("marketplace category"), max_length=400, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("category mapping")
        verbose_name_plural = _("category mappings")
        constraints = [
            models.UniqueConstraint(fields=["channel", "ocop_category"], name="category_mapping_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel.code}: {self.ocop_category.name} → {self.marketplace_category_id or '—'}"


class WhoMustAct(models.TextChoices):
    NOBODY = "nobody", _("Nobody")
    COOPERATIVE = "cooperative", _("The cooperative")
    TRADE_DEPARTMENT = "trade_department", _("The trade department")
    MARKETPLACE = "marketplace", _("The marketplace")
    OPERATOR = "operator", _("The platform operator")


class Listing(models.Model):
    """One product on one shop."""

    class Desired(models.TextChoices):
        PUBLISHED = "published", _("Published")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Reported(models.TextChoices):
        NOT_SENT = "not_sent", _("Not sent yet")
        QUEUED = "queued", _("Queued")
        IN_REVIEW = "in_review", _("In the marketplace's review")
        LIVE = "live", _("Live")
        REJECTED = "rejected", _("Rejected")
        BANNED = "banned", _("Banned")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        FAILED = "failed", _("Failed, retrying")

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="listings")
    # Empty for the province's showcase, where the platform itself sells (direct_sales).
    account = models.ForeignKey(
        MarketplaceAccount,
        verbose_name=_("shop"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="listings",
    )
    # Denormalised from the account so the marketplace's item id can be unique per channel.
    channel = models.ForeignKey(Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="+")
    desired_state = models.CharField(_("wanted"), max_length=10, choices=Desired.choices, default=Desired.PUBLISHED)
    reported_state = models.CharField(
        _("state"), max_length=10, choices=Reported.choices, default=Reported.NOT_SENT, db_index=True
    )
    raw_status = models.CharField(_("marketplace status"), max_length=60, blank=True)
    raw_reason = models.TextField(_("marketplace's reason"), blank=True)
    explanation = models.TextField(_("what to do"), blank=True)
    who_must_act = models.CharField(
        _("who must act"), max_length=20, choices=WhoMustAct.choices, default=WhoMustAct.NOBODY, db_index=True
    )
    external_id = models.CharField(_("marketplace item id"), max_length=64, blank=True)
    external_sku_id = models.CharField(_("marketplace SKU id"), max_length=64, blank=True)
    external_url = models.URLField(_("address on the marketplace"), max_length=500, blank=True)
    # What the marketplace has now, so that an unchanged product sends nothing.
    synced_revision_id = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    synced_price_vnd = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    synced_stock = models.PositiveIntegerField(null=True, blank=True, editable=False)
    first_live_at = models.DateTimeField(_("first live"), null=True, blank=True)
    # When it last stopped being live (withdrawn, banned, rejected after an edit…); cleared when
    # it is live again. With first_live_at, this is what coverage needs to say "listed on day D".
    live_until = models.DateTimeField(_("live until"), null=True, blank=True)
    last_synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("listing")
        verbose_name_plural = _("listings")
        constraints = [
            models.UniqueConstraint(fields=["product", "account"], name="listing_one_per_product_account"),
            models.UniqueConstraint(
                fields=["product", "channel"],
                condition=Q(account__isnull=True),
                name="listing_one_per_product_no_account",
            ),
            models.UniqueConstraint(
                fields=["channel", "external_id"], condition=~Q(external_id=""), name="listing_item_unique_per_channel"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} @ {self.account}"


class SyncJob(models.Model):
    """A push to a marketplace, queued in the same transaction as the change that needs it."""

    class Action(models.TextChoices):
        PUBLISH = "publish", _("Publish or update")
        OFFER = "offer", _("Update price and stock")
        WITHDRAW = "withdraw", _("Withdraw")
        REFRESH = "refresh", _("Refresh status")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")
        SUPERSEDED = "superseded", _("Replaced by a newer job")

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="jobs")
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # A worker running the job holds it until then; a job whose worker died is taken over after.
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    celery_task_id = models.CharField(max_length=64, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("queued"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("sync job")
        verbose_name_plural = _("sync jobs")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # Repeated edits coalesce into the one job still waiting.
            models.UniqueConstraint(
                fields=["listing", "action"], condition=Q(status="pending"), name="syncjob_one_pending_per_action"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} · {self.listing}"


class SyncAttempt(models.Model):
    """One HTTP call to a marketplace. Append-only."""

    job = models.ForeignKey(SyncJob, null=True, blank=True, on_delete=models.CASCADE, related_name="http_calls")
    account = models.ForeignKey(MarketplaceAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=8)
    endpoint = models.CharField(_("endpoint"), max_length=300)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    request_id = models.CharField(_("marketplace request id"), max_length=120, blank=True)
    error_code = models.CharField(_("error code"), max_length=120, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("HTTP call")
        verbose_name_plural = _("HTTP calls")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.status_code}"


class Order(models.Model):
    """A transaction from any channel. A *sale* is an order line of an order that is paid,
    shipped or completed, and not cancelled or returned. Buyer data is not stored."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending payment")
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        RETURNED = "returned", _("Returned")

    SALE_STATUSES = (Status.PAID, Status.SHIPPED, Status.COMPLETED)

    channel = models.ForeignKey(Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="orders")
    account = models.ForeignKey(
        MarketplaceAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    cooperative = models.ForeignKey(
        Cooperative, verbose_name=_("cooperative"), on_delete=models.PROTECT, related_name="orders"
    )
    external_id = models.CharField(_("order number"), max_length=64)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, db_index=True)
    raw_status = models.CharField(_("marketplace status"), max_length=40, blank=True)
    total_vnd = models.PositiveBigIntegerField(_("total (VND)"), default=0)
    ordered_at = models.DateTimeField(_("ordered"))
    remote_updated_at = models.DateTimeField(_("updated on the marketplace"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-ordered_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "account", "external_id"], name="order_unique_per_account"),
            # NULLs are distinct in a unique constraint: orders without an account (the showcase)
            # need their own key.
            models.UniqueConstraint(
                fields=["channel", "external_id"], condition=Q(account__isnull=True), name="order_unique_no_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel.code} {self.external_id}"

    @property
    def is_sale(self) -> bool:
        return self.status in self.SALE_STATUSES


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="order_lines")
    external_line_id = models.CharField(max_length=64)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    name = models.CharField(_("name"), max_length=255, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price_vnd = models.PositiveBigIntegerField(_("unit price (VND)"), default=0)
    # How many units this line has taken out of (positive) or put back into the offer's stock,
    # so that a status seen twice never moves stock twice.
    stock_taken = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.UniqueConstraint(fields=["order", "external_line_id"], name="orderline_unique_per_order"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"


class InboundEvent(models.Model):
    """A webhook or pulled event, stored under its own id before anything is done with it."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    source = models.CharField(_("source"), max_length=30)
    event_id = models.CharField(_("event id"), max_length=200)
    kind = models.CharField(_("kind"), max_length=40, blank=True)
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(_("error"), blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")
        ordering = ["-received_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["source", "event_id"], name="inboundevent_unique_per_source")]

    def __str__(self) -> str:
        return f"{self.source}:{self.event_id}"


class ProductFacts(models.Model):
    """What coverage needs to know about one product, kept current by the services that
    change listings and orders (`facts.product_facts_refresh`), so that the dashboard costs
    O(products), not O(orders). `manage.py coverage_backfill` rebuilds them from the raw
    records with the same function. Definitions: docs/coverage.md."""

    product = models.OneToOneField(
        Product, primary_key=True, on_delete=models.CASCADE, related_name="facts", verbose_name=_("product")
    )
    first_listed_at = models.DateTimeField(_("first live on a counted channel"), null=True, blank=True)
    listed_now = models.BooleanField(_("live now"), default=False)
    unlisted_at = models.DateTimeField(_("no longer live since"), null=True, blank=True)
    live_channels = models.CharField(_("live on"), max_length=255, blank=True, help_text=_("Channel codes."))
    first_sale_on = models.DateField(_("first sale"), null=True, blank=True)
    last_sale_on = models.DateField(_("last sale"), null=True, blank=True)
    refreshed_at = models.DateTimeField(_("refreshed"), auto_now=True)
    # Data quality, "đúng, đủ, sạch, sống" (quality.py); empty until first assessed.
    quality_correct = models.BooleanField(_("correct"), default=False)
    quality_complete = models.BooleanField(_("complete"), default=False)
    quality_clean = models.BooleanField(_("clean"), default=False)
    quality_alive = models.BooleanField(_("alive"), default=False)
    quality_problems = models.JSONField(_("quality problems"), default=dict, blank=True)
    quality_checked_at = models.DateTimeField(_("quality checked"), null=True, blank=True)

    class Meta:
        verbose_name = _("product facts")
        verbose_name_plural = _("product facts")

    def __str__(self) -> str:
        return f"facts of product {self.product_id}"

    def listed_on(self, moment: datetime.datetime) -> bool:
        """Live on a counted channel at `moment`, as far as the facts can tell (docs/coverage.md)."""
        if self.first_listed_at is None or self.first_listed_at > moment:
            return False
        return self.listed_now or (self.unlisted_at is not None and self.unlisted_at > moment)


class ProductSaleDay(models.Model):
    """The days a product sold on a channel (sales as Order defines them, by the order's local
    date). Grows with the days on which products sell, not with the number of orders, so
    "with sales in the period" stays cheap at any order volume."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="sale_days")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"))
    lines = models.PositiveIntegerField(_("order lines"))
    units = models.PositiveIntegerField(_("units"))
    revenue_vnd = models.PositiveBigIntegerField(_("revenue (VND)"))

    class Meta:
        verbose_name = _("sale day")
        verbose_name_plural = _("sale days")
        constraints = [
            models.UniqueConstraint(fields=["product", "channel", "day"], name="saleday_unique_per_product_channel")
        ]
        indexes = [models.Index(fields=["day", "product"], name="saleday_day_product")]

    def __str__(self) -> str:
        return f"{self.product_id} {self.channel_id} {self.day}"


class CoverageSnapshot(models.Model):
    """One row of the coverage figures as they stood on `as_of`, frozen: later changes to
    products, certificates, listings or administrative units do not rewrite history. Taken
    on the 1st of each month for the month just ended, or by `manage.py coverage_snapshot`."""

    TOTAL = ""  # `by` of the province-wide row

    as_of = models.DateField(_("on"), db_index=True)
    period_start = models.DateField(_("sales period from"))
    by = models.CharField(_("breakdown"), max_length=20, blank=True)
    key = models.CharField(_("code"), max_length=40)
    label = models.CharField(_("name"), max_length=255)
    certified = models.PositiveIntegerField(_("certified"))
    listed = models.PositiveIntegerField(_("listed"))
    with_sales = models.PositiveIntegerField(_("with sales"))
    with_sales_in_period = models.PositiveIntegerField(_("with sales in the period"))
    certified_by_year_only = models.PositiveIntegerField(default=0)
    taken_at = models.DateTimeField(_("taken"), auto_now=True)

    class Meta:
        verbose_name = _("coverage snapshot")
        verbose_name_plural = _("coverage snapshots")
        constraints = [models.UniqueConstraint(fields=["as_of", "by", "key"], name="coveragesnapshot_unique_row")]

    def __str__(self) -> str:
        return f"{self.as_of} {self.by or 'total'} {self.key}"


class DirectCheckout(models.Model):
    """One visitor's "Mua trực tiếp" through Stripe Checkout, from the reservation of stock to
    the sale (an Order in the showcase channel) or the release of what it held.

    Stock is taken out of the offer when the checkout starts (`stock_held`), so the last unit
    cannot be sold twice; it goes back when the session expires, is cancelled or the payment
    fails, and moves to the order when the payment arrives."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for payment")
        PROCESSING = "processing", _("Payment being confirmed")
        PAID = "paid", _("Paid")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled by the buyer")
        FAILED = "failed", _("Payment failed")
        REFUNDED = "refunded", _("Refunded")
        SOLD_OUT_REFUNDED = "sold_out", _("Sold out meanwhile, refunded")

    HOLDING = (Status.OPEN, Status.PROCESSING)
    FINAL = (Status.EXPIRED, Status.CANCELLED, Status.FAILED, Status.REFUNDED, Status.SOLD_OUT_REFUNDED)

    class Settlement(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", _("Bank transfer by the operator")
        STRIPE_CONNECT = "stripe_connect", _("Paid out by Stripe")

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    cooperative = models.ForeignKey(
        Cooperative, verbose_name=_("cooperative"), on_delete=models.PROTECT, related_name="direct_checkouts"
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price_vnd = models.PositiveBigIntegerField(_("unit price (VND)"))
    amount_vnd = models.PositiveBigIntegerField(_("amount (VND)"))
    platform_fee_vnd = models.PositiveBigIntegerField(_("platform fee (VND)"), default=0)
    settlement = models.CharField(_("paid out by"), max_length=16, choices=Settlement.choices)
    destination_account = models.CharField(max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    stock_held = models.PositiveIntegerField(_("units held"), default=0)
    session_id = models.CharField(_("Stripe Checkout Session"), max_length=255, blank=True, db_index=True)
    payment_intent_id = models.CharField(_("Stripe PaymentIntent"), max_length=255, blank=True, db_index=True)
    amount_refunded_vnd = models.PositiveBigIntegerField(_("refunded (VND)"), default=0)
    order = models.OneToOneField(
        Order, verbose_name=_("order"), null=True, blank=True, on_delete=models.PROTECT, related_name="direct_checkout"
    )
    # Where to send the parcel: the cooperative ships it, so it needs these; nothing else of
    # the buyer is kept.
    ship_to_name = models.CharField(_("recipient"), max_length=255, blank=True)
    ship_to_phone = models.CharField(_("recipient's phone"), max_length=40, blank=True)
    ship_to_address = models.TextField(_("delivery address"), blank=True)
    language = models.CharField(max_length=8, default="vi")
    expires_at = models.DateTimeField(_("payment possible until"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("direct purchase")
        verbose_name_plural = _("direct purchases")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.reference


class SellerLedgerEntry(models.Model):
    """What the platform owes a cooperative for its direct sales: one row per sale and one per
    refund (negative), never edited afterwards; settlement marks rows as paid out."""

    class Kind(models.TextChoices):
        SALE = "sale", _("Sale")
        REFUND = "refund", _("Refund")

    cooperative = models.ForeignKey(
        Cooperative, verbose_name=_("cooperative"), on_delete=models.PROTECT, related_name="ledger_entries"
    )
    checkout = models.ForeignKey(
        DirectCheckout, verbose_name=_("direct purchase"), on_delete=models.PROTECT, related_name="ledger_entries"
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    # "sale", or the Stripe refund's id: the same refund reported twice is recorded once.
    source_ref = models.CharField(max_length=255)
    gross_vnd = models.BigIntegerField(_("amount paid (VND)"))
    fee_vnd = models.BigIntegerField(_("platform fee (VND)"))
    owed_vnd = models.BigIntegerField(_("owed to the cooperative (VND)"))
    settlement = models.CharField(_("paid out by"), max_length=16, choices=DirectCheckout.Settlement.choices)
    created_at = models.DateTimeField(_("recorded"), default=timezone.now, db_index=True)
    settled_at = models.DateTimeField(_("paid out"), null=True, blank=True)
    settlement_note = models.CharField(_("transfer reference"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("seller ledger entry")
        verbose_name_plural = _("seller ledger")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["checkout", "source_ref"], name="ledger_entry_once_per_source"),
        ]

    def __str__(self) -> str:
        return f"{self.checkout} {self.kind} {self.owed_vnd}"
