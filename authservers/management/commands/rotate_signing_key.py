from django.core.management.base import BaseCommand, CommandError

from authservers.choices import ServerKind
from authservers.models import AuthorizationServer
from authservers.signing import SigningKeyError, rotate_signing_key


class Command(BaseCommand):
    help = (
        "Rotate an internal server's signing key: the published next key starts signing, "
        "the active one is retired (still published until its tokens expire)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--server", help="Server name; optional when there is one internal.")
        parser.add_argument(
            "--algorithm",
            choices=["RS256", "ES256"],
            help="Algorithm of the new next key (it signs after the following rotation).",
        )

    def handle(self, *args, server=None, algorithm=None, **options) -> None:
        internal = AuthorizationServer.objects.filter(kind=ServerKind.INTERNAL)
        if server:
            internal = internal.filter(name=server)
        servers = list(internal[:2])
        if not servers:
            named = f" named {server!r}" if server else ""
            raise CommandError(f"There is no internal authorization server{named}.")
        if len(servers) > 1:
            raise CommandError("Several internal servers exist; name one with --server.")
        try:
            key = rotate_signing_key(servers[0], actor="manage.py", algorithm=algorithm)
        except SigningKeyError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"{servers[0]} now signs with {key.kid} ({key.alg})."))
