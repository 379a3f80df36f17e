from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.roles import Role, set_role

NO_ROLE = "none"


class Command(BaseCommand):
    help = (
        "Give a user one Gatekeep role (viewer, operator or administrator), replacing any "
        "other; the user becomes staff. 'none' removes the role: the user can sign in but "
        "do nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("role", choices=[*Role, NO_ROLE])

    def handle(self, *args, username: str, role: str, **options) -> None:
        users = get_user_model()
        try:
            user = users.objects.get(**{users.USERNAME_FIELD: username})
        except users.DoesNotExist:
            raise CommandError(f"There is no user {username!r}.") from None
        new_role = None if role == NO_ROLE else Role(role)
        before = set_role(user, new_role, actor="manage.py")
        if user.is_superuser:
            self.stderr.write(
                self.style.WARNING(
                    f"{username} is a superuser: an administrator whatever the role."
                )
            )
        self.stdout.write(
            self.style.SUCCESS(f"{username}: {before or 'no role'} → {new_role or 'no role'}.")
        )
