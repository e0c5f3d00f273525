from django.db import migrations

from cooperatives.roles import OFFICERS, SITE_EDITORS, STAFF_GROUPS, VIEWERS, grant


def create_staff_roles(apps, schema_editor):
    for group in STAFF_GROUPS:
        grant(apps, group, "wagtailadmin", "admin", ["access_admin"])
    grant(apps, OFFICERS, "cooperatives", "cooperative", ["add_cooperative", "change_cooperative", "view_cooperative"])
    grant(
        apps,
        OFFICERS,
        "cooperatives",
        "membership",
        ["add_membership", "change_membership", "delete_membership", "view_membership"],
    )
    grant(apps, OFFICERS, "cooperatives", "administrativeunit", ["view_administrativeunit"])
    for model in ("cooperative", "membership", "administrativeunit"):
        grant(apps, VIEWERS, "cooperatives", model, [f"view_{model}"])
    # Officers and editors see product photos in the admin; editors manage the site's images.
    grant(apps, OFFICERS, "wagtailimages", "image", ["choose_image"])
    grant(apps, SITE_EDITORS, "wagtailimages", "image", ["add_image", "change_image", "choose_image"])
    grant(apps, SITE_EDITORS, "wagtaildocs", "document", ["add_document", "change_document", "choose_document"])


class Migration(migrations.Migration):
    dependencies = [
        ("cooperatives", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("wagtailadmin", "0001_create_admin_access_permissions"),
    ]

    operations = [migrations.RunPython(create_staff_roles, migrations.RunPython.noop)]
