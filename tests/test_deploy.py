"""Deployment files: served deployments from the config, prefect.yaml, docker-compose.yml."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from flows.settings import ConfigError, load_settings
from tests.conftest import ROOT


def test_each_schedule_is_a_deployment_with_its_parameters(tmp_path):
    from flows.serve import deployments

    config = tmp_path / "digest.toml"
    config.write_text(
        '[summary]\nsentences = 3\n[[sources]]\nname = "a"\npath = "."\n[[sources]]\nname = "b"\npath = "."\n'
        '[[schedules]]\nname = "morning"\ncron = "0 6 * * *"\ntimezone = "Europe/Paris"\n'
        '[[schedules]]\nname = "evening-fr"\ncron = "30 18 * * 1-5"\ntimezone = "Europe/Paris"\n'
        'sources = ["b"]\nwords = 80\nemail = false\n'
    )
    morning, evening = deployments(load_settings(config), config)
    assert (morning.name, evening.name) == ("morning", "evening-fr")
    assert morning.entrypoint == "flows.daily_digest.daily_digest"
    # Nothing of the config frozen in the deployment: the flow reads it (and the schedule's entry) at run time.
    assert morning.parameters == {"config_path": str(config.resolve()), "schedule": "morning"}
    assert evening.parameters == {"config_path": str(config.resolve()), "schedule": "evening-fr"}
    assert evening.schedules[0].schedule.cron == "30 18 * * 1-5"
    # The UI's schedule line shows the time of day without its zone: the description names it.
    assert 'cron "0 6 * * *" in the Europe/Paris time zone' in morning.description
    # The run form shows the overrides as optional, saying what empty means.
    schema = morning._parameter_openapi_schema.model_dump()
    assert set(schema["required"]) == set()
    sentences = schema["properties"]["sentences"]
    assert "default" not in sentences or sentences["default"] is None
    assert "when empty, the schedule's, else the config's `summary.sentences`" in sentences["description"]
    assert "the config's `summary.algorithm`" in schema["properties"]["algorithm"]["description"]


def test_the_run_takes_the_config_as_it_reads_then_the_schedule_then_the_parameters(tmp_path):
    from flows.daily_digest import with_schedule

    config = tmp_path / "digest.toml"
    config.write_text(
        '[summary]\nsentences = 3\nalgorithm = "lead"\n[[sources]]\nname = "a"\npath = "."\n'
        '[[schedules]]\nname = "morning"\n[[schedules]]\nname = "short"\nwords = 40\n'
    )
    settings = load_settings(config)
    assert with_schedule(settings, "morning", None, None, None)[0].summary.sentences == 3
    short, entry = with_schedule(settings, "short", None, None, None)
    assert (short.summary.words, short.summary.algorithm, entry.name) == (40, "lead", "short")
    chosen = with_schedule(settings, "short", 2, None, "lexrank")[0].summary
    assert (chosen.sentences, chosen.words, chosen.algorithm) == (2, None, "lexrank")
    with pytest.raises(ValueError, match="no \\[\\[schedules\\]\\] entry named 'evening'.*it has morning, short"):
        with_schedule(settings, "evening", None, None, None)


def test_bad_schedule_is_a_configuration_error(tmp_path):
    config = tmp_path / "digest.toml"
    config.write_text('[[sources]]\nname = "a"\npath = "."\n[[schedules]]\ncron = "0 25 * * *"\ntimezone = "Paris"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert 'schedules.0.cron: "0 25 * * *" is not a cron expression: hour 25 is out of range (0-23)' in str(error.value)
    assert "five" not in str(error.value)  # it has five fields: the hour is what is wrong
    assert 'schedules.0.timezone: "Paris" is not an IANA time zone' in str(error.value)


def test_prefect_yaml_points_at_the_flow():
    project = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    [deployment] = project["deployments"]
    path, name = deployment["entrypoint"].split(":")
    assert (ROOT / path).exists() and f"def {name}(" in (ROOT / path).read_text()
    assert deployment["schedules"][0] == {"cron": "0 6 * * *", "timezone": "Europe/Paris"}


def test_prefect_yaml_is_generated_from_the_config_s_schedules_for_the_required_prefect():
    """prefect.yaml is what `python -m flows.serve prefect-yaml` writes from config/digest.toml, and its
    prefect-version satisfies pyproject.toml's requirement."""
    import tomllib

    from packaging.requirements import Requirement

    from flows.serve import prefect_yaml

    written = (ROOT / "prefect.yaml").read_text(encoding="utf-8")
    project = yaml.safe_load(written)
    # A newer Prefect within the requirement leaves the file as it is.
    expected = prefect_yaml(
        load_settings(ROOT / "config" / "digest.toml"), "config/digest.toml", project["prefect-version"]
    )
    assert written == expected, "prefect.yaml is out of date: run `python -m flows.serve prefect-yaml`"
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    [prefect] = [Requirement(d) for d in dependencies if Requirement(d).name == "prefect"]
    assert prefect.specifier.contains(project["prefect-version"]), (project["prefect-version"], str(prefect))


def test_prefect_yaml_has_a_pool_deployment_per_schedule(tmp_path):
    from flows.serve import main

    config = tmp_path / "digest.toml"
    config.write_text(
        '[[sources]]\nname = "a"\npath = "."\n[[schedules]]\nname = "morning"\ncron = "0 6 * * 1-5"\n'
        'timezone = "Europe/Paris"\n[[schedules]]\nname = "evening"\ncron = "0 18 * * *"\n'
    )
    main(["prefect-yaml", "--config", str(config), "--output", str(tmp_path / "prefect.yaml")])
    morning, evening = yaml.safe_load((tmp_path / "prefect.yaml").read_text())["deployments"]
    assert (morning["name"], evening["name"]) == ("morning-pool", "evening-pool")
    assert morning["schedules"] == [{"cron": "0 6 * * 1-5", "timezone": "Europe/Paris"}]
    assert evening["schedules"] == [{"cron": "0 18 * * *", "timezone": "UTC"}]
    assert evening["parameters"] == {"config_path": str(config), "schedule": "evening"}
    assert morning["work_pool"] == {"name": "digest"}


def _compose_config(folder: Path, dotenv: str) -> dict:
    """`docker compose config` (or docker-compose) on the project's file, with an `.env` beside a copy of it."""
    command = None
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        command = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        command = ["docker-compose"]
    if command is None:
        reason = "no compose CLI (scripts/test.sh installs Debian's docker-compose when run as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI requires it")
        pytest.skip(reason)
    shutil.copy(ROOT / "docker-compose.yml", folder / "docker-compose.yml")
    (folder / ".env").write_text(dotenv, encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    checked = subprocess.run(
        [*command, "-f", str(folder / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        cwd=folder,
        env=environment,
    )
    assert checked.returncode == 0, checked.stderr
    return yaml.safe_load(checked.stdout)


@pytest.mark.slow  # docker compose in a subprocess
def test_docker_compose_file_is_valid(tmp_path):
    config = _compose_config(tmp_path, "DIGEST_EMAIL_TO=desk@example.org\n")
    assert {name for name, service in config["services"].items() if not service.get("profiles")} == {
        "postgres",
        "prefect-server",
        "digest",
    }  # what `docker compose up` starts
    assert config["services"]["digest"]["environment"]["DIGEST_EMAIL_TO"] == "desk@example.org"
    assert config["services"]["digest"]["depends_on"]["prefect-server"]["condition"] == "service_healthy"
    assert (
        "postgresql+asyncpg://"
        in config["services"]["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    )


@pytest.mark.slow  # docker compose in a subprocess
def test_the_dask_profile_is_a_scheduler_and_two_workers_built_from_the_project_image(tmp_path):
    services = _compose_config(tmp_path, "DIGEST_CLEANING_EXECUTOR=tcp://dask-scheduler:8786\n")["services"]
    scheduler, worker = services["dask-scheduler"], services["dask-worker"]
    assert scheduler["profiles"] == worker["profiles"] == ["dask"]
    assert scheduler["build"] == worker["build"] == services["digest"]["build"]
    assert worker["deploy"]["replicas"] == 2
    command = worker["command"]
    assert "dask worker tcp://dask-scheduler:8786" in (" ".join(command) if isinstance(command, list) else command)
    assert services["digest"]["environment"]["DIGEST_CLEANING_EXECUTOR"] == "tcp://dask-scheduler:8786"


@pytest.mark.parametrize("dotenv, security", [("", "ssl"), ("DIGEST_SMTP_SECURITY=none\n", "none")])
@pytest.mark.slow  # docker compose in a subprocess
def test_compose_leaves_the_config_file_s_smtp_security_unless_set(tmp_path, monkeypatch, dotenv, security):
    """A config with port 465 and security "ssl": compose's environment no longer forces starttls on it."""
    environment = _compose_config(tmp_path, dotenv)["services"]["digest"]["environment"]
    config = tmp_path / "digest.toml"
    config.write_text(
        f'[email]\nhost = "smtp.example.org"\nport = 465\nsecurity = "ssl"\n'
        f'[[sources]]\nname = "samples"\npath = "{ROOT / "samples"}"\n',
        encoding="utf-8",
    )
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value or "")
    assert load_settings(config).email.security == security
