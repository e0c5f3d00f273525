from django.db import migrations

from cooperatives.roles import SITE_EDITORS


def create_site(apps, schema_editor):
    """Replace Wagtail's welcome page with our home page and the product list under it, and
    let site editors manage the pages under home."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Group = apps.get_model("auth", "Group")
    Page = apps.get_model("wagtailcore", "Page")
    Site = apps.get_model("wagtailcore", "Site")
    Locale = apps.get_model("wagtailcore", "Locale")
    GroupPagePermission = apps.get_model("wagtailcore", "GroupPagePermission")
    Permission = apps.get_model("auth", "Permission")
    HomePage = apps.get_model("cms", "HomePage")
    ProductIndexPage = apps.get_model("cms", "ProductIndexPage")

    if HomePage.objects.exists():
        return
    Page.objects.filter(depth=2, slug="home", content_type__app_label="wagtailcore").delete()
    locale = Locale.objects.first()
    home_type, _ = ContentType.objects.get_or_create(app_label="cms", model="homepage")
    index_type, _ = ContentType.objects.get_or_create(app_label="cms", model="productindexpage")
    home = HomePage.objects.create(
        title="OCOP Lào Cai",
        draft_title="OCOP Lào Cai",
        slug="home",
        content_type=home_type,
        path="00010001",
        depth=2,
        numchild=1,
        url_path="/home/",
        locale=locale,
        intro="<p>Sản phẩm OCOP (Mỗi xã một sản phẩm) của tỉnh, đã được Sở Công Thương duyệt.</p>",
    )
    ProductIndexPage.objects.create(
        title="Sản phẩm OCOP",
        draft_title="Sản phẩm OCOP",
        slug="san-pham",
        content_type=index_type,
        path="000100010001",
        depth=3,
        numchild=0,
        url_path="/home/san-pham/",
        locale=locale,
    )
    Site.objects.update_or_create(is_default_site=True, defaults={"hostname": "localhost", "root_page": home})
    Page.objects.filter(depth=1).update(numchild=1)

    editors = Group.objects.get_or_create(name=SITE_EDITORS)[0]
    page_type, _ = ContentType.objects.get_or_create(app_label="wagtailcore", model="page")
    for codename in ("add_page", "change_page", "publish_page"):
        permission, _ = Permission.objects.get_or_create(
            content_type=page_type, codename=codename, defaults={"name": f"Can {codename.split('_')[0]} page"}
        )
        GroupPagePermission.objects.get_or_create(group=editors, page_id=home.pk, permission=permission)


class Migration(migrations.Migration):
    dependencies = [
        ("cms", "0001_initial"),
        ("cooperatives", "0002_staff_roles"),
        ("wagtailcore", "0098_apitoken"),
    ]

    operations = [migrations.RunPython(create_site, migrations.RunPython.noop)]
