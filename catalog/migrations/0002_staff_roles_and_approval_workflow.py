from django.db import migrations

from cooperatives.roles import OFFICERS, VIEWERS, grant

WORKFLOW_NAME = "Duyệt sản phẩm OCOP"
TASK_NAME = "Sở Công Thương duyệt nội dung"


def create_roles_and_workflow(apps, schema_editor):
    grant(
        apps,
        OFFICERS,
        "catalog",
        "product",
        ["add_product", "change_product", "view_product", "publish_product", "lock_product", "unlock_product"],
    )
    grant(apps, OFFICERS, "catalog", "offer", ["change_offer", "view_offer"])
    grant(apps, OFFICERS, "catalog", "certificate", ["add_certificate", "change_certificate", "view_certificate"])
    grant(apps, OFFICERS, "catalog", "registerimport", ["add_registerimport", "view_registerimport"])
    grant(apps, OFFICERS, "catalog", "ocopcategory", ["view_ocopcategory"])
    for model in ("product", "offer", "certificate", "registerimport", "ocopcategory"):
        grant(apps, VIEWERS, "catalog", model, [f"view_{model}"])

    # One approval step, by the trade department, for every product (Wagtail workflow on the
    # Product snippet). Changing it later is done in Settings → Workflows.
    ContentType = apps.get_model("contenttypes", "ContentType")
    Group = apps.get_model("auth", "Group")
    GroupApprovalTask = apps.get_model("wagtailcore", "GroupApprovalTask")
    Workflow = apps.get_model("wagtailcore", "Workflow")
    WorkflowTask = apps.get_model("wagtailcore", "WorkflowTask")
    WorkflowContentType = apps.get_model("wagtailcore", "WorkflowContentType")

    task_type, _ = ContentType.objects.get_or_create(app_label="wagtailcore", model="groupapprovaltask")
    product_type, _ = ContentType.objects.get_or_create(app_label="catalog", model="product")
    task, _ = GroupApprovalTask.objects.get_or_create(
        name=TASK_NAME, defaults={"content_type": task_type, "active": True}
    )
    task.groups.add(Group.objects.get(name=OFFICERS))
    workflow, _ = Workflow.objects.get_or_create(name=WORKFLOW_NAME, defaults={"active": True})
    WorkflowTask.objects.get_or_create(workflow=workflow, task=task, defaults={"sort_order": 0})
    WorkflowContentType.objects.update_or_create(content_type=product_type, defaults={"workflow": workflow})


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("cooperatives", "0002_staff_roles"),
        ("wagtailcore", "0098_apitoken"),
    ]

    operations = [migrations.RunPython(create_roles_and_workflow, migrations.RunPython.noop)]
