"""`digest check`: each kind of problem, found without running, on one line with its key and the fix."""

from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from flows.check import check_config
from flows.cli import app
from flows.prefect_api import free_port
from tests.conftest import SAMPLES
from tests.http_server import FixtureServer, Reply

runner = CliRunner()
GOOD = f'[[sources]]\nname = "samples"\npath = "{SAMPLES}"\n'


def _config(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "digest.toml"
    config.write_text(text, encoding="utf-8")
    return config


def _only(problems: list[str], key: str) -> str:
    """The one problem, which must name `key`."""
    assert len(problems) == 1, problems
    assert f": {key}: " in problems[0] and "\n" not in problems[0], problems
    return problems[0]


def test_a_good_config_has_no_problem(tmp_path):
    assert check_config(_config(tmp_path, GOOD), offline=False) == []


@pytest.mark.parametrize(
    "text, key, fix",
    [
        (GOOD + '[digest]\ncolour = "blue"\n', "digest.colour", "unknown key (remove it or check its spelling)"),
        (GOOD + '[[schedules]]\ncron = "0 25 * * *"\n', "schedules.0.cron", "hour 25 is out of range (0-23)"),
        (GOOD + '[[schedules]]\ncron = "0 6 * * * *"\n', "schedules.0.cron", "has 6 fields, not five"),
        (GOOD + '[[schedules]]\ntimezone = "Europe/Pariss"\n', "schedules.0.timezone", 'such as "Europe/Paris"'),
        (GOOD + '[[schedules]]\nsources = ["sample"]\n', "schedules.0.sources", 'no source named "sample"'),
        (
            GOOD + '[[sources]]\nname = "x"\nkind = "feed"\nurl = "htp://example.org/rss"\n',
            "sources.1.url",
            "is not an http(s) URL",
        ),
        (
            GOOD + '[[sources]]\nname = "x"\nkind = "urls"\nurls = ["https://a.example/1", "www.b.example/2"]\n',
            "sources.1.urls.1",
            "write it in full",
        ),
        (
            '[[sources]]\nname = "x"\npath = "no-such-folder"\n',
            "sources.0.path",
            "relative to the config file's folder",
        ),
        (GOOD + GOOD, "sources.1.name", "give each source its own name"),
        (GOOD + '[digest.labels]\nreprot = "Bilan"\n', "digest.labels", "unknown label reprot"),
        (
            GOOD + '[email]\nrecipients = ["desk@example.org"]\nhost = "smtp.example.org"\n',
            "email.sender",
            "DIGEST_EMAIL_FROM",
        ),
        (GOOD + '[email]\nport = 465\nsecurity = "starttls"\n', "email.security", 'set security = "ssl"'),
        (
            GOOD + '[email]\nalerts = ["desk@example.org"]\nsender = "d@example.org"\n',
            "email.host",
            "alerts are set but no SMTP server",
        ),
    ],
)
def test_each_kind_of_problem_names_its_key_and_the_fix(tmp_path, text, key, fix):
    assert fix in _only(check_config(_config(tmp_path, text)), key)


FEED = '[[sources]]\nname = "feed"\nkind = "feed"\nurl = "https://example.org/rss"\n'
EMAIL = '[email]\nhost = "smtp.example.org"\nsender = "digest@example.org"\n'


@pytest.mark.parametrize(
    "text, key, reason",
    [
        (GOOD + "[cleaning]\nworkers = 10000\n", "cleaning.workers", "less than or equal to 64"),
        (GOOD + "[digest]\nhistory_days = 1e9\n", "digest.history_days", "less than or equal to 3650"),
        (GOOD + "[digest]\nretention_days = 1e9\n", "digest.retention_days", "less than or equal to 3650"),
        (GOOD + FEED + "window_days = 1e9\n", "sources.1.window_days", "less than or equal to 3650"),
        (GOOD + "[cleaning]\nlanguages = []\n", "cleaning.languages", "no language (list one or more of de, en"),
        (GOOD + '[cleaning]\nlanguages = ["fr", "xx"]\n', "cleaning.languages", '"xx" is not a supported language'),
        (GOOD + '[cleaning]\ndefault_language = "xx"\n', "cleaning.default_language", '"xx" is not a supported'),
        (
            GOOD + '[cleaning]\ncaptions = ["^Photo", "(unclosed"]\n',
            "cleaning.captions",
            '"(unclosed" is not a regular expression: missing ), unterminated subpattern',
        ),
        (GOOD + '[cleaning]\ndatelines = ["[a-"]\n', "cleaning.datelines", '"[a-" is not a regular expression'),
        (GOOD + '[digest]\ntitle = "Digest\\r\\nBcc: spy@example.org"\n', "digest.title", "line break"),
        (GOOD + '[digest.labels]\nstories = "{n}\\nstories"\n', "digest.labels.stories", "line break"),
        (
            GOOD + EMAIL + 'sender_name = "Desk\\nBcc: spy@example.org"\nrecipients = ["a@example.org"]\n',
            "email.sender_name",
            "line break",
        ),
        (
            GOOD + EMAIL + 'recipients = ["a@example.org\\r\\nBcc: spy@example.org"]\n',
            "email.recipients.0",
            "is not an email address",
        ),
        (
            GOOD + EMAIL + 'recipients = ["a@example.org", "not an address"]\n',
            "email.recipients.1",
            '"not an address" is not an email address (write it as name@example.org)',
        ),
        (
            GOOD + EMAIL + 'recipients = ["a@example.org", "b@example.org", "A@example.org"]\n',
            "email.recipients",
            '"A@example.org" is listed twice',
        ),
        (
            GOOD + EMAIL.replace("digest@example.org", "digest desk") + 'recipients = ["a@example.org"]\n',
            "email.sender",
            '"digest desk" is not an email address',
        ),
        (GOOD + "[fetch]\nconnect_timeout = inf\n", "fetch.connect_timeout", "less than or equal to 60"),
        (GOOD + "[fetch]\ntotal_timeout = inf\n", "fetch.total_timeout", "less than or equal to 3600"),
        (GOOD + "[fetch]\nbackoff = 1e9\n", "fetch.backoff", "less than or equal to 60"),
        (GOOD + "[fetch]\nhost_delay = 1e9\n", "fetch.host_delay", "less than or equal to 60"),
        (GOOD + "[fetch]\nconcurrency = 100000\n", "fetch.concurrency", "less than or equal to 256"),
        (GOOD + "[email]\ntimeout = inf\n", "email.timeout", "less than or equal to 600"),
        (GOOD + "[email]\nretry_delay = 1e9\n", "email.retry_delay", "less than or equal to 600"),
    ],
)
def test_limits_the_run_would_trip_over_are_rejected(tmp_path, text, key, reason):
    assert reason in _only(check_config(_config(tmp_path, text)), key)


def test_a_byte_order_mark_is_named(tmp_path):
    config = tmp_path / "digest.toml"
    config.write_bytes(b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    result = runner.invoke(app, ["check", "--config", str(config), "--offline"])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[1:] == [
        f"{config}: starts with a byte-order mark (BOM); save it as UTF-8 without a BOM"
    ]


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    config = tmp_path / "digest.toml"
    config.write_bytes((GOOD + '[digest]\ntitle = "Revue de presse été"\n').encode("latin-1"))
    at = config.read_bytes().index("é".encode("latin-1"))
    assert check_config(config) == [f"{config}: not UTF-8 (byte {at}); save it as UTF-8"]


def test_values_from_the_environment_name_their_variable(tmp_path, monkeypatch):
    config = _config(tmp_path, GOOD + EMAIL)
    monkeypatch.setenv("DIGEST_SMTP_PORT", "abc")
    monkeypatch.setenv("DIGEST_EMAIL_TO", "a@example.org, not an address")
    problems = sorted(check_config(config))
    assert len(problems) == 2, problems
    assert problems[0].startswith("DIGEST_EMAIL_TO (environment): email.recipients.1: "), problems
    assert problems[1].startswith("DIGEST_SMTP_PORT (environment): email.port: "), problems
    monkeypatch.setenv("DIGEST_SMTP_PORT", "465")  # valid, but not with the file's security
    monkeypatch.setenv("DIGEST_EMAIL_TO", "a@example.org")
    assert _only(check_config(config), "email.security").startswith(f"{config}: ")


def test_an_output_folder_that_is_a_dangling_link_is_found(tmp_path):
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "gone" / "digests")
    config = _config(tmp_path, GOOD)
    assert "broken symbolic link" in _only(check_config(config, out_dir=link), "digest.out_dir")
    assert "broken symbolic link" in _only(check_config(config, out_dir=link / "today"), "digest.out_dir")


def test_output_and_data_folders_must_be_writable(tmp_path):
    (tmp_path / "a-file").write_text("")
    config = _config(tmp_path, GOOD + f'[digest]\nout_dir = "{tmp_path / "a-file" / "digests"}"\n')
    assert "is a file" in _only(check_config(config), "digest.out_dir")
    config = _config(tmp_path, GOOD + f'[digest]\ndata_dir = "{tmp_path / "a-file" / "data"}"\n')
    assert "is a file" in _only(check_config(config), "digest.data_dir")
    assert "digest.out_dir" in _only(
        check_config(_config(tmp_path, GOOD), out_dir=tmp_path / "a-file"), "digest.out_dir"
    )


def test_unreachable_and_refused_urls_are_found_unless_offline(tmp_path):
    with FixtureServer() as server:
        server.routes["/feed.xml"] = Reply(200, "<rss/>", {"Content-Type": "application/rss+xml"})
        server.routes["/private.xml"] = Reply(403, "go away")
        text = GOOD + "".join(
            f'[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{url}"\nlocal = {local}\n'
            for name, url, local in [
                ("ok", server.url("/feed.xml"), "true"),
                ("gone", server.url("/gone.xml"), "true"),
                ("refused", server.url("/private.xml"), "true"),
                ("down", f"http://127.0.0.1:{free_port()}/rss", "true"),
                ("loopback", server.url("/feed.xml"), "false"),
            ]
        )
        config = _config(tmp_path, text)
        problems = check_config(config, offline=False)
        assert check_config(config, offline=True) == []
    assert len(problems) == 4, problems
    by_key = {line.split(": ")[1]: line for line in problems}
    assert "HTTP 404 (check the address)" in by_key["sources.2.url"]
    assert "HTTP 403" in by_key["sources.3.url"] and "user_agent" in by_key["sources.3.url"]
    assert "cannot reach 127.0.0.1" in by_key["sources.4.url"]
    assert "local = true" in by_key["sources.5.url"]


class _Quiet:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        return "250 OK"


@pytest.fixture
def smtp_server():
    """Starts aiosmtpd servers on 127.0.0.1 (Controller's options, e.g. enable_SMTPUTF8); stops them after."""

    def start(**options) -> int:
        port = free_port()
        controller = Controller(_Quiet(), hostname="127.0.0.1", port=port, **options)
        controller.start()
        started.append(controller)
        return port

    started = []
    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def smtp_port(smtp_server):
    return smtp_server()


def test_smtp_is_tried_only_with_smtp(tmp_path, smtp_port):
    email = f'[email]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\nsender = "d@example.org"\n'
    assert check_config(_config(tmp_path, GOOD + email), smtp=True) == []
    closed = _config(tmp_path, GOOD + email.replace(str(smtp_port), str(free_port())))
    assert check_config(closed) == []
    assert "cannot talk to 127.0.0.1" in _only(check_config(closed, smtp=True), "email.host")
    tls = _config(tmp_path, GOOD + email.replace('"none"', '"ssl"'))
    assert "TLS failed" in _only(check_config(tls, smtp=True), "email.security")


def test_smtp_check_finds_a_server_without_smtputf8_for_a_non_ascii_address(tmp_path, smtp_server):
    def config(port: int) -> Path:
        return _config(
            tmp_path,
            GOOD + f'[email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            'sender = "d@example.org"\nrecipients = ["a@example.org", "josé@example.org"]\n',
        )

    without = config(smtp_server(enable_SMTPUTF8=False))
    assert check_config(without) == []  # found only by talking to the server
    line = _only(check_config(without, smtp=True), "email.recipients.1")
    assert "josé@example.org: the SMTP server does not offer SMTPUTF8" in line
    assert check_config(config(smtp_server(enable_SMTPUTF8=True)), smtp=True) == []


def test_check_run_and_serve_fail_the_same_way_before_any_work(tmp_path):
    config = _config(tmp_path, GOOD + '[digest]\ncolour = "blue"\n[[schedules]]\ntimezone = "Mars/Olympus"\n')
    outputs = []
    for command in (["check"], ["run", "--date", "2026-11-27"], ["serve"]):
        result = runner.invoke(app, [*command, "--config", str(config)])
        assert result.exit_code == 2, result.output
        outputs.append(result.stderr)
    assert outputs[0] == outputs[1] == outputs[2]
    lines = outputs[0].splitlines()
    assert lines[0] == "Configuration error" and len(lines) == 3
    assert lines[1].startswith(f"{config}: digest.colour: unknown key")
    assert lines[2].startswith(f"{config}: schedules.0.timezone: ")
    assert not (tmp_path / "digests").exists() and not (tmp_path / "data").exists()


def test_check_says_so_when_all_is_well(tmp_path):
    result = runner.invoke(app, ["check", "--config", str(_config(tmp_path, GOOD)), "--offline"])
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.stdout


@pytest.mark.prefect
def test_smtp_check_takes_the_prefect_email_block_that_sending_takes(prefect_api, tmp_path, smtp_server):
    """Sending connects through email.block; `check --smtp` refused any block ("checked when sending only")."""
    from prefect_email import EmailServerCredentials

    from flows.settings import load_settings
    from tasks.deliver import build_message, send

    port = smtp_server()
    EmailServerCredentials(smtp_server="127.0.0.1", smtp_port=port, smtp_type="INSECURE").save(
        "desk-smtp", overwrite=True
    )
    config = _config(
        tmp_path, GOOD + '[email]\nblock = "desk-smtp"\nsender = "d@example.org"\nrecipients = ["a@example.org"]\n'
    )
    email = load_settings(config).email
    assert send(build_message("subject", "text", "<p>text</p>", email, email.recipients), email)  # sending takes it
    assert check_config(config, smtp=True) == []
    result = runner.invoke(app, ["check", "--config", str(config), "--offline", "--smtp"])
    assert result.exit_code == 0, result.output

    EmailServerCredentials(smtp_server="127.0.0.1", smtp_port=free_port(), smtp_type="INSECURE").save(
        "closed", overwrite=True
    )
    closed = _config(tmp_path, config.read_text().replace('"desk-smtp"', '"closed"'))
    line = _only(check_config(closed, smtp=True), "email.block")
    assert "cannot talk to 127.0.0.1:" in line and "the block's smtp_server, smtp_port and smtp_type" in line
    missing = _config(tmp_path, config.read_text().replace('"closed"', '"no-such-block"'))
    assert 'cannot load the prefect-email block "no-such-block"' in _only(
        check_config(missing, smtp=True), "email.block"
    )
