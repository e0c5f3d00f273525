import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace_sync import coverage

from .coverage_report import _date


class Command(BaseCommand):
    help = "Freeze the coverage figures of a day (default: the last day of the previous month)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=_date, help="The day to freeze (YYYY-MM-DD or dd/mm/yyyy).")

    def handle(self, *args, as_of=None, **options):
        as_of = as_of or timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
        count = coverage.snapshot_take(as_of=as_of)
        self.stdout.write(
            self.style.SUCCESS(
                _("Coverage on %(date)s frozen: %(n)d rows.") % {"date": as_of.strftime("%d/%m/%Y"), "n": count}
            )
        )
