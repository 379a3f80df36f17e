"""celery beat keeps its schedule file in a state directory, never in the checkout."""

from pathlib import Path

from django.conf import settings

from gateway_admin.celery import StateDirScheduler, app

REPOSITORY = Path(settings.BASE_DIR).resolve()


def test_the_schedule_file_is_outside_the_repository():
    configured = Path(settings.CELERY_BEAT_SCHEDULE_FILENAME)
    assert configured.is_absolute()
    assert REPOSITORY not in configured.resolve().parents
    assert configured.parent == Path(settings.GATEWAY_STATE_DIR)


def test_celery_reads_the_setting_and_uses_the_state_dir_scheduler():
    assert app.conf.beat_schedule_filename == settings.CELERY_BEAT_SCHEDULE_FILENAME
    assert app.conf.beat_scheduler == "gateway_admin.celery:StateDirScheduler"


def test_the_scheduler_creates_the_state_directory(tmp_path):
    schedule = tmp_path / "state" / "nested" / "celerybeat-schedule"
    scheduler = StateDirScheduler(app=app, schedule_filename=str(schedule), lazy=False)
    try:
        assert schedule.parent.is_dir()
        assert "refresh-due-jwks" in scheduler.schedule
    finally:
        scheduler.close()


def test_git_ignores_schedule_files_left_by_older_runs():
    patterns = (REPOSITORY / ".gitignore").read_text().splitlines()
    assert "celerybeat-schedule*" in patterns
