from . import portal


def portal_navigation(request):
    """The portal's section links, for the navigation bar of portal pages."""
    if getattr(request, "portal", None) is None:
        return {}
    return {"portal_sections": portal.sections()}
