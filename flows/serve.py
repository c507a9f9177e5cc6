"""Serve the daily-digest flow: one Prefect deployment per [[schedules]] entry of the config.

A deployment's parameters are the config's path and its schedule's name: the flow reads the config
when each run starts, so an edited length, algorithm or source list counts from the next run (a
changed cron or time zone needs `digest serve` restarted). `python -m flows.serve prefect-yaml`
writes prefect.yaml's work-pool deployments from the same [[schedules]].
"""

from __future__ import annotations

import argparse
from pathlib import Path

import prefect
import yaml
from prefect import serve
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron

from flows.daily_digest import daily_digest
from flows.paths import DEFAULT_CONFIG
from flows.settings import ScheduleSettings, Settings, load_settings

POOL = "digest"
PREFECT_YAML_HEADER = """\
# Written by `python -m flows.serve prefect-yaml` from config/digest.toml's [[schedules]]; regenerate it
# after changing them (tests/test_deploy.py checks it matches).
# For users who prefer a work pool to `digest serve`:
#   prefect work-pool create digest --type process
#   prefect deploy --all          (from this folder, with the package installed)
#   prefect worker start --pool digest
# Do not reuse the name of a served deployment: `prefect deploy` would silently turn it
# into a work-pool deployment.
"""


def describe(settings: Settings, schedule: ScheduleSettings) -> str:
    """The deployment's description. The UI's schedule line shows the time of day without its zone
    (the zone is only in its tooltip), so the description names it."""
    return (
        f'{settings.digest.title}: cron "{schedule.cron}" in the {schedule.timezone} time zone. '
        "The config is read when each run starts; parameters left empty take its values."
    )


def deployments(settings: Settings, config_path: Path) -> list[RunnerDeployment]:
    """Deployments named after their schedules, with the config's path and the schedule's name."""
    return [
        daily_digest.to_deployment(
            name=schedule.name,
            schedules=[Cron(schedule.cron, timezone=schedule.timezone)],
            # Nothing else: length, algorithm, sources... are read from the config at run time, and the
            # UI's run form shows them as optional overrides.
            parameters={"config_path": str(config_path.resolve()), "schedule": schedule.name},
            description=describe(settings, schedule),
            tags=["dispatch-digest"],
            # By module, not file path: runs start from any folder, with the installed package.
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        for schedule in settings.schedules
    ]


def serve_config(settings: Settings, config_path: Path) -> None:
    """Blocks, starting scheduled and manual runs; stopping it does not pause the schedules."""
    serve(*deployments(settings, config_path), pause_on_shutdown=False)


def pool_deployments(settings: Settings, config_path: str) -> list[dict]:
    """prefect.yaml's deployments: one per schedule, named `<schedule>-pool`, for the `digest` pool."""
    return [
        {
            "name": f"{schedule.name}-pool",
            "entrypoint": "flows/daily_digest.py:daily_digest",
            "description": describe(settings, schedule) + f" Run by a worker of the `{POOL}` pool.",
            "tags": ["dispatch-digest"],
            "parameters": {"config_path": config_path, "schedule": schedule.name},
            "schedules": [{"cron": schedule.cron, "timezone": schedule.timezone}],
            "work_pool": {"name": POOL},
        }
        for schedule in settings.schedules
    ]


def prefect_yaml(settings: Settings, config_path: str, version: str = prefect.__version__) -> str:
    """The text of prefect.yaml; its prefect-version is the installed Prefect's unless given."""
    project = {
        "name": "dispatch-digest",
        "prefect-version": version,
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}],
        "deployments": pool_deployments(settings, config_path),
    }
    return PREFECT_YAML_HEADER + yaml.safe_dump(project, sort_keys=False, allow_unicode=True, width=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("prefect-yaml", help="write prefect.yaml from the config's [[schedules]]")
    write.add_argument(
        "--config",
        default=str(DEFAULT_CONFIG),
        help="config file, as the deployment's config_path (relative to the project folder)",
    )
    write.add_argument("--output", type=Path, default=Path("prefect.yaml"))
    arguments = parser.parse_args(argv)
    arguments.output.write_text(prefect_yaml(load_settings(arguments.config), arguments.config), encoding="utf-8")
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
