"""The register import as an officer uses it in the admin: upload, read the check, import."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from kombu.exceptions import OperationalError

from catalog import services, tasks
from catalog.models import Product, RegisterImport

pytestmark = pytest.mark.django_db

GOOD = "Mã sổ đăng ký,Tên sản phẩm,Số sao,Số quyết định,Ngày quyết định\nX-1,Chè xanh,4,10/QĐ-UBND,01/02/2025\n"
BAD_ROW = GOOD + "X-2,Miến đao,7,11/QĐ-UBND,01/02/2025\n"


def _upload(client, content, name="so-dang-ky.csv"):
    return client.post(
        reverse("catalog_register_import"), {"file": SimpleUploadedFile(name, content.encode(), "text/csv")}
    )


def _worker_runs(callbacks, *, apply):
    """What the Celery worker does with the queued task (the real worker is tested in
    tests/test_celery_worker.py): run the service for the import that was queued."""
    assert len(callbacks) == 1  # exactly one task queued, after commit
    register_import = RegisterImport.objects.latest("pk")
    return services.register_import_run(register_import_id=register_import.pk, apply=apply)


def test_a_bad_row_is_shown_with_its_row_and_column_and_nothing_is_saved(
    client, officer, django_capture_on_commit_callbacks
):
    client.force_login(officer)
    with django_capture_on_commit_callbacks() as callbacks:
        response = _upload(client, BAD_ROW)
    assert response.status_code == 302
    assert _worker_runs(callbacks, apply=False).status == RegisterImport.Status.INVALID

    page = client.get(response["Location"]).content.decode()
    assert "<td>3</td><td>Số sao</td>" in page and "&#x27;7&#x27;" in page
    assert reverse("catalog_register_import_apply", args=[RegisterImport.objects.get().pk]) not in page
    assert Product.objects.count() == 0


def test_a_good_file_is_imported_only_when_the_officer_confirms(client, officer, django_capture_on_commit_callbacks):
    client.force_login(officer)
    with django_capture_on_commit_callbacks() as callbacks:
        _upload(client, GOOD)
    register_import = _worker_runs(callbacks, apply=False)
    assert register_import.status == RegisterImport.Status.VALID
    assert Product.objects.count() == 0  # checked, not saved

    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("catalog_register_import_apply", args=[register_import.pk]))
    assert _worker_runs(callbacks, apply=True).status == RegisterImport.Status.DONE
    product = Product.objects.get()
    assert product.name == "Chè xanh" and not product.live


def test_only_a_checked_file_can_be_imported(client, officer):
    client.force_login(officer)
    register_import = RegisterImport.objects.create(original_filename="x.csv", status=RegisterImport.Status.INVALID)
    client.post(reverse("catalog_register_import_apply", args=[register_import.pk]))
    register_import.refresh_from_db()
    assert register_import.status == RegisterImport.Status.INVALID


def test_while_the_worker_is_busy_the_page_refreshes_and_shows_progress(client, officer):
    client.force_login(officer)
    register_import = RegisterImport.objects.create(
        original_filename="lon.xlsx", status=RegisterImport.Status.CHECKING, total_rows=20000, processed_rows=5000
    )
    page = client.get(reverse("catalog_register_import_detail", args=[register_import.pk])).content.decode()
    assert 'http-equiv="refresh"' in page and "25%" in page and "5000" in page


def test_a_viewer_can_read_imports_but_not_upload(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("catalog_register_import")).status_code == 200
    _upload(client, GOOD)
    assert not RegisterImport.objects.exists()


def test_an_unreachable_broker_ends_the_import_with_a_clear_message(
    client, officer, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.check_register_import_task, "delay", broker_down)
    client.force_login(officer)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, GOOD)
    assert response.status_code == 302
    register_import = RegisterImport.objects.get()
    assert register_import.status == RegisterImport.Status.FAILED
    assert "worker" in register_import.failure or "xử lý" in register_import.failure
    assert register_import.failure in client.get(response["Location"]).content.decode().replace("&#x27;", "'")
