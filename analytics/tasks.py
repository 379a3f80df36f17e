"""Celery tasks: Redis → database every minute, minutes → hours and pruning every hour."""

from celery import shared_task

from analytics import services


@shared_task
def ingest_traffic() -> int:
    return services.ingest()


@shared_task
def roll_up_traffic() -> list[int]:
    return list(services.roll_up_and_prune())
