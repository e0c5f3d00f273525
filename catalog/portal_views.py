"""The catalog's pages in the member portal: a cooperative's products, one product's content,
photos, price and stock, certificates, review and history.

Every view is wrapped by `cooperatives.portal.portal_view` (the one door that checks who may
act for which cooperative) and reads objects only through `selectors.portal_product`, which
never looks outside `request.portal.cooperative`.
"""

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cooperatives.portal import portal_view

from . import selectors, services
from .forms import (
    CertificateForm,
    CertificateScanForm,
    OfferForm,
    PhotoUploadForm,
    ProductContentForm,
    ProductCreateForm,
)
from .images import ImageRejected
from .models import Certificate


def _product_url(request, product, name="portal:product"):
    return redirect(name, cooperative_id=request.portal.cooperative.pk, product_id=product.pk)


def _context(request, product, **extra):
    draft = services.latest_content(product)
    return {
        "cooperative": request.portal.cooperative,
        "product": product,
        "draft": draft,
        "status": selectors.moderation_status(product),
        "editable": not services.is_in_review(product),
        **extra,
    }


@portal_view
def product_list(request):
    rows = selectors.portal_products(cooperative=request.portal.cooperative)
    return render(request, "catalog/portal/product_list.html", {"rows": rows, "title": _("Products")})


@portal_view
def product_add(request):
    form = ProductCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        product = services.product_create(
            cooperative=request.portal.cooperative,
            user=request.user,
            name=form.cleaned_data["name"],
            category=form.cleaned_data["category"],
        )
        messages.success(request, _("Product created as a draft. Now add photos, a description, price and stock."))
        return _product_url(request, product, "portal:product_edit")
    return render(request, "catalog/portal/product_add.html", {"form": form, "title": _("New product")})


@portal_view
def product_detail(request, product_id):
    product = selectors.portal_product(cooperative=request.portal.cooperative, product_id=product_id)
    context = _context(request, product)
    draft = context["draft"]
    photo_ids = [photo.image_id for photo in draft.images.all()]
    from .portal import product_panels

    context.update(
        panels=product_panels(request, product),
        checklist=selectors.product_checklist(product, draft),
        photos=selectors.images_with_renditions(photo_ids, selectors.THUMBNAIL_SPEC).values(),
        certificate=selectors.current_certificate(product.certificates.all()),
        title=draft.name,
    )
    return render(request, "catalog/portal/product_detail.html", context)


@portal_view
def product_edit(request, product_id):
    product = selectors.portal_product(cooperative=request.portal.cooperative, product_id=product_id)
    draft = services.latest_content(product)
    form = ProductContentForm(request.POST or None, instance=draft)
    if request.method == "POST" and form.is_valid():
        try:
            services.product_update_content(
                product=product,
                user=request.user,
                changes={name: form.cleaned_data[name] for name in form.changed_data},
            )
        except services.CatalogError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Saved. The changes are a draft until the trade department approves them."))
            return _product_url(request, product)
    return render(request, "catalog/portal/product_edit.html", _context(request, product, form=form))


@portal_view
def product_photos(request, product_id):
    product = selectors.portal_product(cooperative=request.portal.cooperative, product_id=product_id)
    form = PhotoUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        added = 0
        for upload in form.cleaned_data["photos"]:
            try:
                services.product_add_photo(product=product, user=request.user, upload=upload)
            except ImageRejected as rejected:
                messages.error(request, f"{upload.name}: {rejected.message}")
            except services.CatalogError as error:
                messages.error(request, error.message)
                break
            else:
                added += 1
        if added:
            messages.success(request, _("%(count)d photo(s) added.") % {"count": added})
        return _product_url(request, product, "portal:product_photos")
    context = _context(request, product, form=form)
    photos = list(context["draft"].images.all())
    images = selectors.images_with_renditions([photo.image_id for photo in photos], "fill-320x320")
    context["photos"] = [(photo, images.get(photo.image_id)) for photo in photos]
    context["title"] = _("Photos")
    return render(request, "catalog/portal/product_photos.html", context)


@portal_view
@require_POST
def product_photo_remove(request, product_id, image_id):
    product = selectors.portal_product(cooperative=request.portal.cooperative, product_id=product_id)
    try:
        services.product_remove_photo(product=product, user=request.user, image_id=image_id)
    except services.CatalogError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Photo removed."))
    return _product_url(request, product, "portal:product_photos")


@portal_view
@require_POST
def product_photo_move(request, product_id, image_id):
    product = selectors.portal_product(cooperative=request.portal.cooperative, product_id=product_id)
    offset = -1 if request.POST.get("direction") == "earlier" else 1
    try:
        services.product_move_photo(product=product, user=request.user, image_id=image_id, offset=offset)
    except services.CatalogError as error:
        messages.error(request, error.message)
    return _product_url(request, product, "portal:product_photos")


@portal_view
def product_offer(request, product_id):
    product = selectors.portal_product(cooperative=request.portal.cooperative, product_id=product_id)
    offer = product.offer
    initial = {"price_vnd": offer.price_vnd, "stock": offer.stock, "safety_buffer": offer.safety_buffer}
    form = OfferForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.offer_update(
            product=product,
            user=request.user,
            change=services.OfferChange(
                price_vnd=form.cleaned_data["price_vnd"],
                stock=form.cleaned_data["stock"],
                safety_buffer=form.cleaned_data["safety_buffer"],
            ),
        )
        messages.success(request, _("Price and stock saved. They apply at once, without review."))
        return _product_url(request, product)
    return render(
        request, "catalog/portal/product_offer.html", _context(request, product, form=form, title=_("Price and stock"))
    )


@portal_view
def product_certificates(request, product_id):
    product = selectors.portal_product(cooperative=request.portal.cooperative, product_id=product_id)
    form = CertificateForm(request.POST or None, request.FILES or None, instance=Certificate(product=product))
    if request.method == "POST" and form.is_valid():
        try:
            services.certificate_add(
                product=product,
                user=request.user,
                source=Certificate.Source.MEMBER,
                **{name: form.cleaned_data[name] for name in form.Meta.fields},
            )
        except services.CatalogError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Certificate saved. The trade department will check it against the decision."))
            return _product_url(request, product, "portal:product_certificates")
    certificates = list(product.certificates.all())
    context = _context(
        request,
        product,
        form=form,
        scan_form=CertificateScanForm(),
        certificates=[(c, c.validity_on()) for c in certificates],
        title=_("OCOP certificates"),
    )
    return render(request, "catalog/portal/product_certificates.html", context)


@portal_view
@require_POST
def certificate_scan_upload(request, product_id, certificate_id):
    product = selectors.portal_product(cooperative=request.portal.cooperative, product_id=product_id)
    certificate = selectors.portal_certificate(product=product, certificate_id=certificate_id)
    form = CertificateScanForm(request.POST, request.FILES)
    if form.is_valid():
        services.certificate_attach_scan(certificate=certificate, user=request.user, scan=form.cleaned_data["scan"])
        messages.success(request, _("Scan attached."))
    else:
        for error in form.errors.get("scan", []):
            messages.error(request, error)
    return _product_url(request, product, "portal:product_certificates")


@portal_view
def certificate_scan_download(request, product_id, certificate_id):
    product = selectors.portal_product(cooperative=request.portal.cooperative, product_id=product_id)
    certificate = selectors.portal_certificate(product=product, certificate_id=certificate_id)
    if not certificate.scan:
        raise Http404
    return FileResponse(certificate.scan.open("rb"), as_attachment=False)


@portal_view
@require_POST
def product_submit(request, product_id):
    product = selectors.portal_product(cooperative=request.portal.cooperative, product_id=product_id)
    try:
        services.product_submit_for_review(product=product, user=request.user)
    except services.CatalogError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("Sent for review. The trade department will approve it or tell you what to change.")
        )
    return _product_url(request, product)


@portal_view
@require_POST
def product_withdraw(request, product_id):
    product = selectors.portal_product(cooperative=request.portal.cooperative, product_id=product_id)
    try:
        services.product_withdraw_from_review(product=product, user=request.user)
    except services.CatalogError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Withdrawn from review. You can edit the product again."))
    return _product_url(request, product)


@portal_view
def product_history(request, product_id):
    product = selectors.portal_product(cooperative=request.portal.cooperative, product_id=product_id)
    context = _context(
        request,
        product,
        entries=selectors.product_history(product),
        reviews=selectors.review_comments(product),
        title=_("History"),
    )
    return render(request, "catalog/portal/product_history.html", context)
