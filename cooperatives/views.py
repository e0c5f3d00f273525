"""The member portal's shell: sign-in, choosing a cooperative, a cooperative's home page."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from . import portal, selectors


class PortalLoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    redirect_authenticated_user = True
    extra_context = {"title": _("Sign in")}


class PortalLogoutView(auth_views.LogoutView):
    pass


@login_required
def home(request):
    """One cooperative: go straight to it. Several (a helper): choose. None: say so."""
    memberships = selectors.portal_memberships(user=request.user)
    if len(memberships) == 1:
        return redirect("portal:cooperative", cooperative_id=memberships[0].cooperative_id)
    return render(request, "portal/choose_cooperative.html", {"memberships": memberships})


@portal.portal_view
def cooperative_home(request):
    cards = [
        {"template": section.home_template, **section.home_context(request)}
        for section in portal.sections()
        if section.home_template and section.home_context
    ]
    return render(request, "portal/cooperative_home.html", {"cooperative": request.portal.cooperative, "cards": cards})
