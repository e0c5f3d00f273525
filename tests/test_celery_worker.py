"""A real Celery worker (in a thread, on the configured broker: Redis in CI, in-memory
otherwise) runs the register check only after the upload's transaction has committed."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from catalog import services
from catalog.models import RegisterImport
from config.celery import app

REGISTER = (
    "Mã sổ đăng ký,Tên sản phẩm,Chủ thể,Loại hình chủ thể,Số sao,Số quyết định,Ngày quyết định\n"
    "T-001,Chè Shan tuyết Suối Giàng,HTX Suối Giàng,Hợp tác xã,4,2585/QĐ-UBND,28/12/2023\n"
    "T-002,Miến đao Giới Phiên,,,3,1234/QĐ-UBND,15/03/2024\n"
).encode()


def _wait_for(register_import, statuses, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        register_import.refresh_from_db()
        if register_import.status in statuses:
            return register_import
        time.sleep(0.2)
    raise AssertionError(f"still {register_import.status} after {timeout} s")


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_register_check_runs_on_a_real_worker_after_the_transaction_commits(officer):
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        with transaction.atomic():
            register_import = services.register_import_upload(
                uploaded_file=SimpleUploadedFile("so-dang-ky.csv", REGISTER, "text/csv"), user=officer
            )
            # Inside the transaction nothing is sent: had the task been sent now, the worker
            # (another connection) could not see this row and the check would never finish.
            time.sleep(1.5)
            register_import.refresh_from_db()
            assert register_import.status == RegisterImport.Status.PENDING

        checked = _wait_for(register_import, {RegisterImport.Status.VALID, RegisterImport.Status.INVALID})
        assert checked.status == RegisterImport.Status.VALID, checked.errors
        assert checked.total_rows == 2 and checked.finished_at is not None

        services.register_import_apply(register_import=checked, user=officer)
        done = _wait_for(register_import, {RegisterImport.Status.DONE, RegisterImport.Status.FAILED})
        assert done.status == RegisterImport.Status.DONE, done.failure
        assert done.summary["new_products"] == 2
