from django import template
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from wagtail.log_actions import registry as log_action_registry

register = template.Library()

ACTION_LABELS = {
    "wagtail.create": gettext_lazy("created the product"),
    "wagtail.edit": gettext_lazy("saved a draft"),
    "wagtail.workflow.start": gettext_lazy("sent it for review"),
    "wagtail.workflow.resume": gettext_lazy("sent it for review again"),
    "wagtail.workflow.cancel": gettext_lazy("withdrew it from review"),
    "wagtail.workflow.approve": gettext_lazy("approved it"),
    "wagtail.workflow.reject": gettext_lazy("asked for changes"),
    "wagtail.publish": gettext_lazy("published the approved version"),
    "wagtail.unpublish": gettext_lazy("took it off the public site"),
    "wagtail.lock": gettext_lazy("locked it"),
    "wagtail.unlock": gettext_lazy("unlocked it"),
    "wagtail.revert": gettext_lazy("went back to an earlier version"),
    "ocop.offer_change": gettext_lazy("changed price or stock"),
    "ocop.certificate_add": gettext_lazy("added a certificate"),
    "ocop.certificate_scan": gettext_lazy("attached a certificate scan"),
    "ocop.certificate_verify": gettext_lazy("verified a certificate"),
    "ocop.register_import": gettext_lazy("imported it from the register"),
}


@register.filter
def vnd(value) -> str:
    """A price in whole đồng as people read it: "250.000 ₫" (Vietnamese), "250,000 ₫" (English)."""
    if value is None or value == "":
        return "—"
    separator = "," if (get_language() or "vi").startswith("en") else "."
    return f"{int(value):,} ₫".replace(",", separator)


_price = vnd


def describe_actor(entry) -> str:
    acting = entry.acting
    user = entry.user
    name = acting.get("user") or (user.get_full_name() or user.get_username() if user else _("the system"))
    if acting.get("role") == "helper":
        organisation = acting.get("organisation")
        helper = _("helper %(name)s") % {"name": name}
        if organisation:
            helper = f"{helper} ({organisation})"
        return _("%(helper)s for %(cooperative)s") % {"helper": helper, "cooperative": acting.get("cooperative", "")}
    return name


@register.simple_tag
def log_entry_line(entry) -> str:
    """One line of a product's history: "helper X (team) for cooperative Y: sent it for review"."""
    label = ACTION_LABELS.get(entry.action)
    if label is None:  # actions other apps register with Wagtail carry their own label
        formatter = log_action_registry.get_formatter(entry)
        label = formatter.label if formatter else entry.action
    line = f"{describe_actor(entry)}: {label}"
    if entry.action == "ocop.offer_change":
        data = entry.data
        line += " ({} → {}; {} → {})".format(
            _price(data.get("old_price")), _price(data.get("new_price")), data.get("old_stock"), data.get("new_stock")
        )
    return line
