from django.core.management.base import BaseCommand, CommandError

from authservers.models import SigningKey
from authservers.signing import SigningKeyError, revoke_signing_key


class Command(BaseCommand):
    help = (
        "Emergency: revoke a signing key of the internal issuer. It leaves the JWKS and the "
        "gateway's keys at once, and tokens it signed are refused; when it was signing, the "
        "next key takes over."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "kid",
            help="Key id, as published in /oauth2/jwks. Kids are RFC 7638 thumbprints and may "
            "start with '-': put -- before the kid (revoke_signing_key -- -Abc…).",
        )
        parser.add_argument("--reason", default="", help="Why; kept in the audit trail.")

    def handle(self, *args, kid: str, reason: str, **options) -> None:
        key = SigningKey.objects.select_related("server").filter(kid=kid).first()
        if key is None:
            raise CommandError(f"There is no signing key {kid!r}.")
        try:
            revocation = revoke_signing_key(key.server, kid, actor="manage.py", reason=reason)
        except SigningKeyError as exc:
            raise CommandError(str(exc)) from None
        signer = revocation.active.kid if revocation.active else "no key (check the server)"
        self.stdout.write(self.style.SUCCESS(f"Revoked {kid} of {key.server}; {signer} signs now."))
