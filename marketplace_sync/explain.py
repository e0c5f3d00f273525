"""What a listing's state means for the people who must act, in Vietnamese.

The marketplace's own status and reason are always kept next to these explanations: a member
should be able to read exactly what Shopee said, and what to do about it.
"""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from .connectors.base import AuthorizationRevoked, ConnectorError, RateLimited, TokenExpired, TransientError
from .models import WhoMustAct


@dataclass(frozen=True)
class Explanation:
    text: str
    who_must_act: str


def rejected(channel_name: str, reason: str) -> Explanation:
    return Explanation(
        _(
            "%(channel)s did not accept the product: “%(reason)s”. Correct the product (name, description, "
            "photos or certificate), send it for review again, and it will be sent again after approval."
        )
        % {"channel": channel_name, "reason": reason or _("no reason given")},
        WhoMustAct.COOPERATIVE,
    )


def banned(channel_name: str, reason: str) -> Explanation:
    return Explanation(
        _("%(channel)s has blocked the listing: “%(reason)s”. Contact the trade department before changing it.")
        % {"channel": channel_name, "reason": reason or _("no reason given")},
        WhoMustAct.TRADE_DEPARTMENT,
    )


def in_review(channel_name: str) -> Explanation:
    return Explanation(
        _("%(channel)s is reviewing the product. This usually takes up to a day; nothing to do.")
        % {"channel": channel_name},
        WhoMustAct.MARKETPLACE,
    )


def not_ready(channel_name: str, problems: list[str]) -> Explanation:
    return Explanation(
        _("Not sent to %(channel)s yet: %(problems)s") % {"channel": channel_name, "problems": " ".join(problems)},
        WhoMustAct.COOPERATIVE,
    )


def missing_category(channel_name: str) -> Explanation:
    return Explanation(
        _(
            "The trade department has not chosen which %(channel)s category this OCOP product set goes to "
            "(Marketplaces → Category mappings)."
        )
        % {"channel": channel_name},
        WhoMustAct.TRADE_DEPARTMENT,
    )


def connector_error(channel_name: str, error: ConnectorError) -> Explanation:
    said = f"{error.code}: {error.message}" if error.code else error.message
    if isinstance(error, AuthorizationRevoked | TokenExpired):
        return Explanation(
            _("The connection to the %(channel)s shop has expired. Connect the shop again in “Shops”.")
            % {"channel": channel_name},
            WhoMustAct.COOPERATIVE,
        )
    if isinstance(error, RateLimited):
        return Explanation(
            _("%(channel)s asked us to slow down; the product will be sent again shortly.") % {"channel": channel_name},
            WhoMustAct.NOBODY,
        )
    if isinstance(error, TransientError):
        return Explanation(
            _("%(channel)s could not be reached (%(said)s); retrying automatically.")
            % {"channel": channel_name, "said": said},
            WhoMustAct.NOBODY,
        )
    return Explanation(
        _("%(channel)s refused the request (%(said)s). The platform operator has been told.")
        % {"channel": channel_name, "said": said},
        WhoMustAct.OPERATOR,
    )
