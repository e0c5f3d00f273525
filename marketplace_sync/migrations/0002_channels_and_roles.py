from django.db import migrations

from cooperatives.roles import OFFICERS, VIEWERS, grant

# code, name, kind, requests per second per shop, counts for coverage
CHANNELS = [
    ("shopee", "Shopee", "api", 10, True),
    ("lazada", "Lazada", "api", 10, True),
    ("tiktok_shop", "TikTok Shop", "api", 10, True),
    ("tiki", "Tiki", "api", 5, True),
    ("postmart", "Postmart", "export", 1, True),
    ("voso", "Voso", "export", 1, True),
    ("google_merchant", "Google Merchant Center", "feed", 1, False),
    ("meta_catalog", "Meta (Facebook, Instagram)", "feed", 1, False),
    ("showcase", "Trang OCOP của tỉnh", "showcase", 1, True),
]


def create_channels_and_roles(apps, schema_editor):
    Channel = apps.get_model("marketplace_sync", "Channel")
    for order, (code, name, kind, rate, counts) in enumerate(CHANNELS):
        Channel.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "requests_per_second": rate,
                "counts_for_coverage": counts,
                "sort_order": order,
            },
        )
    for model in ("listing", "marketplaceaccount", "syncjob", "syncattempt", "order", "orderline", "inboundevent"):
        grant(apps, OFFICERS, "marketplace_sync", model, [f"view_{model}"])
        grant(apps, VIEWERS, "marketplace_sync", model, [f"view_{model}"])
    grant(apps, OFFICERS, "marketplace_sync", "listing", ["change_listing"])
    grant(apps, OFFICERS, "marketplace_sync", "channel", ["view_channel", "change_channel"])
    grant(apps, OFFICERS, "marketplace_sync", "categorymapping", ["view_categorymapping", "change_categorymapping"])
    grant(apps, VIEWERS, "marketplace_sync", "channel", ["view_channel"])
    grant(apps, VIEWERS, "marketplace_sync", "categorymapping", ["view_categorymapping"])


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace_sync", "0001_initial"),
        ("cooperatives", "0002_staff_roles"),
    ]

    operations = [migrations.RunPython(create_channels_and_roles, migrations.RunPython.noop)]
