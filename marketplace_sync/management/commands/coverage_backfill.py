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
        parser.add_argument("--check", action="store_true", help="Only report products whose stored facts differ.")

    def handle(self, *args, check=False, **options):
        before = facts.facts_snapshot() if check else None

        def progress(done: int, total: int) -> None:
            self.stdout.write(_("%(done)d / %(total)d products") % {"done": done, "total": total})

        count = facts.product_facts_refresh(progress=progress)
        quality.quality_refresh()
        if check:
            after = facts.facts_snapshot()
            differing = sorted(pk for pk in set(before) | set(after) if before.get(pk) != after.get(pk))
            if differing:
                self.stdout.write(
                    _("%(n)d products had facts that differed from their records (now corrected): %(ids)s")
                    % {"n": len(differing), "ids": ", ".join(map(str, differing[:50]))}
                )
            else:
                self.stdout.write(_("The stored facts agreed with the records."))
        self.stdout.write(self.style.SUCCESS(_("Facts rebuilt for %(n)d products.") % {"n": count}))
