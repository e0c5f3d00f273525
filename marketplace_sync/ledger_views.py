"""The operator's settlement screen in the admin: who is owed what for direct sales, a
spreadsheet of the rows to transfer, and marking a transfer done."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import coverage, direct_sales, selectors
from .models import DirectCheckout, SellerLedgerEntry

VIEW_PERMISSION = "marketplace_sync.view_sellerledgerentry"
SETTLE_PERMISSION = "marketplace_sync.change_sellerledgerentry"


class SettleForm(forms.Form):
    cooperative_id = forms.IntegerField(widget=forms.HiddenInput)
    up_to = forms.DateTimeField(widget=forms.HiddenInput)
    note = forms.CharField(
        label=gettext_lazy("Transfer reference"), max_length=255, help_text=gettext_lazy("e.g. the bank's UNC number")
    )


def _sheet(entries) -> tuple[list[str], list[list]]:
    headers = [
        _("Recorded"),
        _("Cooperative"),
        _("Account holder"),
        _("Bank account number"),
        _("Bank and branch"),
        _("Order"),
        _("Product"),
        _("Quantity"),
        _("Kind"),
        _("Paid by the buyer (VND)"),
        _("Platform fee (VND)"),
        _("Owed (VND)"),
        _("Paid out by"),
        _("Transferred"),
        _("Transfer reference"),
    ]
    rows = [
        [
            timezone.localtime(entry.created_at).strftime("%d/%m/%Y %H:%M"),
            entry.cooperative.name,
            entry.cooperative.bank_account_name,
            entry.cooperative.bank_account_number,
            entry.cooperative.bank_name,
            entry.checkout.reference,
            entry.checkout.product.name,
            entry.checkout.quantity,
            entry.get_kind_display(),
            entry.gross_vnd,
            entry.fee_vnd,
            entry.owed_vnd,
            entry.get_settlement_display(),
            timezone.localtime(entry.settled_at).strftime("%d/%m/%Y") if entry.settled_at else "",
            entry.settlement_note,
        ]
        for entry in entries
    ]
    return headers, rows


def ledger_view(request):
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        if not request.user.has_perm(SETTLE_PERMISSION):
            raise PermissionDenied
        form = SettleForm(request.POST)
        if form.is_valid():
            count = direct_sales.ledger_settle(
                cooperative_id=form.cleaned_data["cooperative_id"],
                up_to=form.cleaned_data["up_to"],
                note=form.cleaned_data["note"],
                user=request.user,
            )
            messages.success(request, _("%(count)s rows marked as transferred.") % {"count": count})
        else:
            messages.error(request, _("Give the transfer's reference to mark it done."))
        return redirect("direct_sales_ledger")
    entries = selectors.ledger_entries()
    if request.GET.get("outstanding"):
        entries = entries.filter(settlement=DirectCheckout.Settlement.BANK_TRANSFER, settled_at__isnull=True)
    fmt = request.GET.get("format")
    if fmt in ("xlsx", "csv"):
        headers, rows = _sheet(entries.select_related("cooperative").iterator(chunk_size=1000))
        stamp = datetime.date.today().isoformat()
        if fmt == "csv":
            content, kind = coverage.csv_bytes(headers, rows), "text/csv; charset=utf-8"
        else:
            content = coverage.xlsx_bytes(headers, rows, sheet_title=_("Seller ledger"))
            kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        response = HttpResponse(content, content_type=kind)
        response["Content-Disposition"] = f'attachment; filename="so-ban-truc-tiep-{stamp}.{fmt}"'
        return response
    now = timezone.now()
    owed = [
        {**row, "form": SettleForm(initial={"cooperative_id": row["cooperative_id"], "up_to": now})}
        for row in selectors.ledger_outstanding_by_cooperative()
    ]
    return render(
        request,
        "marketplace_sync/admin/ledger.html",
        {
            "title": _("Direct sales: seller ledger"),
            "owed": owed,
            "entries": entries[:100],
            "can_settle": request.user.has_perm(SETTLE_PERMISSION),
            "checkouts_open": DirectCheckout.objects.filter(status__in=DirectCheckout.HOLDING).count(),
            "entry_count": SellerLedgerEntry.objects.count(),
        },
    )
