"""Serve the daily-digest flow: one Prefect deployment per [[schedules]] entry of the config."""

from __future__ import annotations

from pathlib import Path

from prefect import serve
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron

from flows.daily_digest import daily_digest
from flows.settings import Settings


def deployments(settings: Settings, config_path: Path) -> list[RunnerDeployment]:
    """Deployments named after their schedules, with the config's path and the schedule's parameters."""
    return [
        daily_digest.to_deployment(
            name=schedule.name,
            schedules=[Cron(schedule.cron, timezone=schedule.timezone)],
            # The config's summary length and algorithm are shown (and changed) in the UI's run form.
            parameters={"config_path": str(config_path.resolve()), "sentences": settings.summary.sentences,
                        "algorithm": settings.summary.algorithm, **schedule.parameters()},
            description=f"{settings.digest.title}: every '{schedule.cron}' ({schedule.timezone}).",
            tags=["dispatch-digest"],
            # By module, not file path: runs start from any folder, with the installed package.
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        for schedule in settings.schedules
    ]


def serve_config(settings: Settings, config_path: Path) -> None:
    """Blocks, starting scheduled and manual runs; stopping it does not pause the schedules."""
    serve(*deployments(settings, config_path), pause_on_shutdown=False)
