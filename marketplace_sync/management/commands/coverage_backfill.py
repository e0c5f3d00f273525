from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from marketplace_sync import facts, quality


class Command(BaseCommand):
    help = (
        "Rebuild every product's coverage facts (listing and sale facts) from the raw listings and "
        "orders, and assess data quality. Safe to run any time; needed after changing which channels "
        "count for coverage."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Also name the products whose stored facts differed (and were corrected).",
        )

    def handle(self, *args, check=False, **options):
        def progress(done: int, total: int) -> None:
            self.stdout.write(_("%(done)d / %(total)d products") % {"done": done, "total": total})

        count, differing = facts.facts_check(progress=progress)
        quality.quality_refresh()
        if check:
            if differing:
                self.stdout.write(
                    _("%(n)d products had facts that differed from their records (now corrected): %(ids)s")
                    % {"n": len(differing), "ids": ", ".join(map(str, differing[:50]))}
                )
            else:
                self.stdout.write(_("The stored facts agreed with the records."))
        self.stdout.write(self.style.SUCCESS(_("Facts rebuilt for %(n)d products.") % {"n": count}))
