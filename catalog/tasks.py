"""Celery tasks of the catalog: thin wrappers that call one service with primitive arguments."""

from celery import shared_task


@shared_task(acks_late=True)
def check_register_import_task(register_import_id: int) -> None:
    from .services import register_import_run

    register_import_run(register_import_id=register_import_id, apply=False)


@shared_task(acks_late=True)
def apply_register_import_task(register_import_id: int) -> None:
    from .services import register_import_run

    register_import_run(register_import_id=register_import_id, apply=True)
