"""The member portal's frame: a registry of sections and the one door every view goes through.

The portal is assembled the way the Wagtail admin is: this app provides the shell (sign-in,
the cooperative switcher for helpers, navigation) and each app adds its own pages with
`register_section`. Every page of a cooperative lives under
`/portal/hop-tac-xa/<cooperative_id>/…` and is wrapped by `portal_view`, which asks one
selector (`selectors.portal_membership`) whether the signed-in person may act for that
cooperative. Isolation is decided there and nowhere else: views then read only through
`request.portal.cooperative`.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.urls import URLPattern, URLResolver, include, path

from . import selectors
from .audit import acting_for


@dataclass(frozen=True)
class PortalSection:
    """A group of portal pages. `urlpatterns` are relative to a cooperative's prefix and every
    view in them must be decorated with `portal_view`."""

    key: str
    label: str
    url_name: str  # the section's entry page, reversed with cooperative_id
    urlpatterns: list = field(default_factory=list)
    order: int = 100
    # A card on the cooperative's home page: a template and a function giving its context.
    home_template: str = ""
    home_context: Callable | None = None


_sections: dict[str, PortalSection] = {}


def register_section(section: PortalSection) -> PortalSection:
    _sections[section.key] = section
    return section


def sections() -> list[PortalSection]:
    return sorted(_sections.values(), key=lambda section: (section.order, section.key))


def cooperative_urlpatterns() -> list[URLPattern | URLResolver]:
    """All registered sections' pages, to be mounted under a cooperative's prefix."""
    return [path("", include(section.urlpatterns)) for section in sections()]


@dataclass(frozen=True)
class PortalContext:
    membership: object
    memberships: list

    @property
    def cooperative(self):
        return self.membership.cooperative

    @property
    def is_helper(self) -> bool:
        from .models import Membership

        return self.membership.role == Membership.Role.HELPER


def portal_view(view):
    """Sign-in required; the `cooperative_id` in the URL must be one the user may act for
    (404 otherwise — we do not even confirm that the cooperative exists). Everything the view
    logs is recorded as done by this person, for this cooperative, in this role."""

    @functools.wraps(view)
    def wrapper(request, *args, cooperative_id, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        memberships = selectors.portal_memberships(user=request.user)
        membership = next((m for m in memberships if m.cooperative_id == cooperative_id), None)
        if membership is None:
            raise Http404
        request.portal = PortalContext(membership=membership, memberships=memberships)
        with acting_for(user=request.user, membership=membership):
            return view(request, *args, **kwargs)

    wrapper.portal_view = True
    return wrapper
