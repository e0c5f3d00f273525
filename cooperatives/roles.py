"""Staff roles of the Wagtail admin, as Django groups.

Cooperative members and helpers have no group and no admin permission: they use the member
portal, whose access is decided by their memberships (see cooperatives.portal). Data
migrations of each app grant that app's permissions to these groups through `grant`, using
the historical models they are given, so the roles are in place as soon as `migrate` ran.
"""

OFFICERS = "Cán bộ Sở Công Thương"  # trade department: read everything, import, moderate
VIEWERS = "Người xem báo cáo"  # other departments: read only
SITE_EDITORS = "Biên tập viên trang công khai"  # public site pages, news, images

STAFF_GROUPS = (OFFICERS, VIEWERS, SITE_EDITORS)


def grant(apps, group_name: str, app_label: str, model: str, codenames: list[str]) -> None:
    """Give `group_name` these permissions on `app_label.model`, creating permission rows that
    post_migrate would only create later (or never, for Wagtail's extra snippet actions)."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name=group_name)
    content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
    for codename in codenames:
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type,
            codename=codename,
            defaults={"name": f"Can {codename.split('_', 1)[0]} {model}"},
        )
        group.permissions.add(permission)
