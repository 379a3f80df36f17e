"""Client secrets in a configuration file: never in clear, always a reference.

    client_secret: {env: BILLING_CLIENT_SECRET}     # read from the environment
    client_secret: {file: secrets/billing.txt}      # read from a file (relative to the file)
    client_secret: {hash: "pbkdf2_sha256$..."}      # the stored hash, as `export --secret-hashes`
                                                    # writes it: the secret keeps working

Left out, a new application gets a generated secret, shown once by apply. `env` and `file`
name the environment and files of the machine that runs `manage.py gatekeep_config`; over
the REST API they would name the gateway's own, so there only `hash` is accepted.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.hashers import identify_hasher

MAX_SECRET_CHARS = 255
MIN_SECRET_CHARS = 16
_ENV_NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True)
class Secret:
    """A resolved reference: the plain secret, or a stored hash to keep as it is."""

    plain: str | None = None
    hashed: str | None = None


class SecretUnavailable(Exception):
    pass


def reference_problem(value) -> str | None:
    """Why `value` is not a secret reference, or None."""
    if not isinstance(value, dict) or len(value) != 1:
        return (
            "A secret is never written in clear: give {env: NAME}, {file: path} or "
            "{hash: ...} (or leave it out to have one generated)."
        )
    ((kind, target),) = value.items()
    if kind not in {"env", "file", "hash"}:
        return f"Unknown secret reference {kind!r}; use env, file or hash."
    if not isinstance(target, str) or not target:
        return f"The {kind} reference needs a non-empty string."
    if kind == "env" and not set(target) <= _ENV_NAME_CHARS:
        return f"{target!r} is not an environment variable name."
    if kind == "hash":
        try:
            identify_hasher(target)
        except ValueError:
            return "Not a password hash this gateway knows (see PASSWORD_HASHERS)."
    return None


def resolve(value: dict, base_dir: Path | None, *, local: bool) -> Secret:
    """The secret a checked reference names. `local`: env and file may be read."""
    ((kind, target),) = value.items()
    if kind == "hash":
        return Secret(hashed=target)
    if not local:
        raise SecretUnavailable(
            f"{kind} references are read on the machine running `manage.py gatekeep_config`; "
            "over the REST API, send {hash: ...} or leave the secret out."
        )
    if kind == "env":
        secret = os.environ.get(target)
        if secret is None:
            raise SecretUnavailable(f"The environment variable {target} is not set.")
    else:
        path = Path(target)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_SECRET_CHARS * 4 + 2)
            secret = raw.decode("utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretUnavailable(f"Cannot read the secret file {target}: {exc}") from None
    if not (MIN_SECRET_CHARS <= len(secret) <= MAX_SECRET_CHARS) or secret != secret.strip():
        raise SecretUnavailable(
            f"The secret from {kind} {target} must be {MIN_SECRET_CHARS} to "
            f"{MAX_SECRET_CHARS} characters, without surrounding spaces."
        )
    return Secret(plain=secret)
