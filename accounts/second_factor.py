"""An optional second factor for local console accounts: a TOTP authenticator app (django-otp).

Accounts that sign in through the identity provider get their second factor there;
this is for the local (break-glass) accounts. A person enrols from the console
(start → scan or type the key → confirm with a code); from then on the console asks
for a code after the password. django-otp's TOTP device refuses a code used before
(replay) and slows down guessing (exponential throttling after failures).
"""

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import changes

DEVICE_NAME = "Gatekeep console"


def confirmed_device(user) -> TOTPDevice | None:
    if user is None or not user.pk:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


def start_enrollment(user) -> TOTPDevice:
    """A new, unconfirmed authenticator for `user` (replacing an earlier unconfirmed one)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def confirm_enrollment(user, code: str) -> bool:
    """Confirm the pending authenticator with a code from it; audited."""
    device = pending_device(user)
    if device is None or not verify(device, code):
        return False
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        changes.record(user, "second-factor-added", user, None, {"second_factor": "totp"})
    return True


def remove(user, actor) -> None:
    with transaction.atomic():
        deleted, _ = TOTPDevice.objects.filter(user=user).delete()
        if deleted:
            changes.record(actor, "second-factor-removed", user, {"second_factor": "totp"}, None)


def verify(device: TOTPDevice, code: str) -> bool:
    """A six-digit code from the device, not used before, within one step of now."""
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == device.digits):
        return False
    allowed, _ = device.verify_is_allowed()
    return bool(allowed) and device.verify_token(code)
