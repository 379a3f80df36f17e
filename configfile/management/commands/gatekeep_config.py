"""manage.py gatekeep_config export|diff|apply: the gateway's configuration as a file."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from configfile.apply import ApplyConflict, apply, diff
from configfile.export import export_text
from configfile.loading import MAX_BYTES
from configfile.problems import ConfigInvalid
from configfile.schema import json_schema_text

ACTOR = "gatekeep_config"


class Command(BaseCommand):
    help = (
        "Export the gateway's configuration as YAML, show what a file would change (exit "
        "code 1 on drift), or apply a file in one transaction."
    )

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        export = sub.add_parser("export", help="Write the configuration as YAML.")
        export.add_argument("-o", "--output", help="File to write (default: standard output).")
        export.add_argument(
            "--secret-hashes",
            action="store_true",
            help="Include each client's stored secret hash, so a restore keeps secrets working.",
        )
        sub.add_parser("schema", help="Print the file format's JSON Schema.")
        for verb in ("diff", "apply"):
            command = sub.add_parser(verb)
            command.add_argument("file", help="The configuration file, or - for standard input.")
            command.add_argument(
                "--prune", action="store_true", help="Delete what the file no longer names."
            )
            if verb == "apply":
                command.add_argument(
                    "--dry-run", action="store_true", help="Check and plan; change nothing."
                )
        for name, command in sub.choices.items():
            if name != "schema":
                command.add_argument(
                    "--api",
                    action="append",
                    help="Only this API (base path or name) and the servers it trusts.",
                )

    def handle(self, *args, verb: str, **options) -> None:
        try:
            if verb == "schema":
                self.stdout.write(json_schema_text(), ending="")
            elif verb == "export":
                self._export(options)
            else:
                self._diff_or_apply(verb, options)
        except ConfigInvalid as exc:
            raise CommandError(exc.report()) from None
        except ApplyConflict as exc:
            raise CommandError(str(exc)) from None

    def _export(self, options) -> None:
        text = export_text(options["api"], secret_hashes=options["secret_hashes"])
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {options['output']}.")
        else:
            self.stdout.write(text, ending="")

    def _diff_or_apply(self, verb: str, options) -> None:
        text, base_dir = self._read(options["file"])
        common = {"prune": options["prune"], "api_names": options["api"], "base_dir": base_dir}
        if verb == "diff":
            plan = diff(text, **common)
            self.stdout.write(plan.render())
            if not plan.empty:
                sys.exit(1)  # drift, as `diff` itself does
            return
        result = apply(text, actor=ACTOR, dry_run=options["dry_run"], **common)
        self.stdout.write(result.plan.render())
        if result.generated:
            self.stdout.write("\nGenerated client secrets (shown once; store them now):")
            for name, client_id, secret in result.generated:
                self.stdout.write(f"  {name}: client_id={client_id} client_secret={secret}")
        if result.dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing was changed."))
        elif result.applied:
            self.stdout.write(self.style.SUCCESS("Applied in one transaction."))

    @staticmethod
    def _read(name: str) -> tuple[bytes, Path | None]:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_BYTES + 1)
            return data, Path.cwd()
        path = Path(name)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"Cannot read {name}: {exc.strerror}.") from None
        return data, path.resolve().parent
