from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.seed import DEMO_ADMIN, DEMO_AUDIENCE, Demo, DemoError, ensure_demo

CURL_BEGIN = "# --- get a token and call the demo API (paste into a shell) ---"
CURL_END = "# --- end ---"


class Command(BaseCommand):
    help = (
        "Create or refresh the demo: the internal issuer, an echo API trusting it, a demo "
        "application and an admin user; print the curl commands to call it. Safe to re-run."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where clients reach this gateway; the issuer and the echo upstream use it.",
        )
        parser.add_argument(
            "--reset-password", action="store_true", help="Give the admin user a new password."
        )
        parser.add_argument(
            "--rotate-secret", action="store_true", help="Give the demo app a new client secret."
        )

    def handle(self, *args, base_url, reset_password, rotate_secret, **options) -> None:
        try:
            demo = ensure_demo(base_url, reset_password, rotate_secret)
        except DemoError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self._report(demo))
        self.stdout.write(self.style.SUCCESS(f"Demo ready: {demo.server.issuer}"))

    def _report(self, demo: Demo) -> str:
        base = demo.server.issuer.rstrip("/")
        api_url = f"{base}{demo.api.gateway_path}"
        secret = demo.client_secret or "<secret>"
        lines = [
            f"Issuer       {demo.server.issuer}",
            f"Discovery    {base}/.well-known/openid-configuration",
            f"Demo API     {api_url}  ->  {demo.api.upstream_url}",
            f"Application  {demo.application.name}",
            f"Client id    {demo.application.client_id}",
        ]
        if demo.issuer_changed_from:
            lines.append(
                f"Note: the issuer moved from {demo.issuer_changed_from}; "
                "tokens issued there no longer verify."
            )
        if demo.client_secret:
            lines.append(f"Secret       {demo.client_secret}  (shown once; store it now)")
        else:
            lines.append(
                "Secret       unchanged and not shown again: re-run with --rotate-secret, or "
                f"POST /api/v1/applications/{demo.application.pk}/rotate-secret/"
            )
        console = f"http://{settings.GATEWAY_ADMIN_BIND}/console/"  # the admin listener
        if demo.admin_password:
            lines.append(
                f"Console      {console}  user {DEMO_ADMIN}, password "
                f"{demo.admin_password}  (shown once)"
            )
        else:
            lines.append(f"Console      {console}  user {DEMO_ADMIN} (--reset-password)")
        lines += [
            "",
            CURL_BEGIN,
            f"CLIENT_ID='{demo.application.client_id}'",
            f"CLIENT_SECRET='{secret}'",
            f'TOKEN=$(curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials '
            f"-d audience={DEMO_AUDIENCE} -d scope=demo:read {base}/oauth2/token "
            "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
            f'curl -s -H "Authorization: Bearer $TOKEN" {api_url}/hello',
            CURL_END,
            "# As an end user instead: -d grant_type=password -d username=... -d password=...",
            "",
        ]
        return "\n".join(lines)
