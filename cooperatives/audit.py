"""Who acted, and for whom.

The member portal runs every request inside `acting_for(...)`. Wagtail's own log entries
(create, edit, workflow start, publish…) and ours then carry the acting person and, when a
helper acted, the cooperative they acted for — "by helper X for cooperative Y" — without any
view having to remember it.
"""

import contextlib
import contextvars
from dataclasses import dataclass

from wagtail.log_actions import LogContext


@dataclass(frozen=True)
class Acting:
    user_id: int
    user_name: str
    cooperative_id: int
    cooperative_name: str
    role: str  # Membership.Role value
    organisation: str = ""

    @property
    def is_helper(self) -> bool:
        from .models import Membership

        return self.role == Membership.Role.HELPER

    def as_log_data(self) -> dict:
        return {
            "user_id": self.user_id,
            "user": self.user_name,
            "cooperative_id": self.cooperative_id,
            "cooperative": self.cooperative_name,
            "role": self.role,
            "organisation": self.organisation,
        }


_current: contextvars.ContextVar[Acting | None] = contextvars.ContextVar("ocop_acting", default=None)


def current_acting() -> Acting | None:
    return _current.get()


def display_name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


@contextlib.contextmanager
def acting_for(*, user, membership):
    acting = Acting(
        user_id=user.pk,
        user_name=display_name(user),
        cooperative_id=membership.cooperative_id,
        cooperative_name=membership.cooperative.name,
        role=membership.role,
        organisation=membership.helper_organisation,
    )
    token = _current.set(acting)
    try:
        with LogContext(user=user):
            yield acting
    finally:
        _current.reset(token)
