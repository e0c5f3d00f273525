from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from marketplace_sync.categories import load_category_mappings


class Command(BaseCommand):
    help = "Seed the OCOP → marketplace category mapping from data/marketplaces (never overwrites edits)."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", default=None)

    def handle(self, *args, data_dir=None, **options):
        result = load_category_mappings(data_dir=data_dir)
        self.stdout.write(
            _("Category mappings: %(created)d created, %(unchanged)d kept as they are.")
            % {"created": result.created, "unchanged": result.unchanged}
        )
        for label in result.unmatched_subgroups:
            self.stderr.write(_("No OCOP product set matches “%(label)s”.") % {"label": label})
