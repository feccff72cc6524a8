"""Unit tests for syndicate.config: parse_config() and load_config()."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syndicate.config import DEFAULT_CTA_PATTERNS, RANGES, Config, load_config, parse_config
from syndicate.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = (ROOT / "config.toml").read_text(encoding="utf-8")
MINIMAL = '[site]\ntitle = "Example News"\nurl = "https://news.example.org/"\n'


def parse(text: str, path: Path | None = None, env: dict[str, str] | None = None) -> Config:
    return parse_config(text, path or Path("/srv/pub/config.toml"), env or {})


def config_error(text: str, path: Path | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(text, path)
    return info.value


def replaced(old: str, new: str) -> str:
    assert old in BUNDLED, old
    return BUNDLED.replace(old, new, 1)


# --- the bundled config ---------------------------------------------------------------------


def test_bundled_config_parses(tmp_path: Path) -> None:
    cfg = parse(BUNDLED, tmp_path / "config.toml")
    assert cfg.path == tmp_path / "config.toml"
    assert cfg.site.title == "The Astana Times"
    assert cfg.site.url == "https://example.org/"
    assert cfg.site.language == "en"
    assert cfg.feeds.max_items == 20
    assert cfg.digest.schedule == "0 7 * * *"
    assert cfg.digest.first_digest_days == 7
    assert cfg.cta.url == "https://example.org/subscribe.html#email"
    assert cfg.web.url == "https://example.org/" and cfg.web.listen == "127.0.0.1:8080"
    assert dict(cfg.cta.links) == {
        "X": "https://x.com/TheAstanaTimes",
        "Telegram": "https://t.me/astanatimes",
    }
    assert cfg.cta.patterns == DEFAULT_CTA_PATTERNS
    assert cfg.email.delivery == "file"
    assert cfg.email.address == "The Astana Times, Astana, Kazakhstan"
    assert cfg.smtp.port == 587 and cfg.smtp.security == "starttls"
    assert cfg.smtp.rate_per_second == 0
    assert [(s.email, s.name) for s in cfg.subscribers] == [("reader@example.org", "A Reader")]
    assert cfg.schedule.timezone == "Asia/Almaty"
    assert cfg.tz == ZoneInfo("Asia/Almaty")
    assert cfg.schedule.ingest_interval == 300


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "site" / "conf"
    cfg = parse(BUNDLED, folder / "config.toml")
    assert cfg.paths.articles == folder / "articles"
    assert cfg.paths.output == folder / "feeds"
    assert cfg.paths.templates == folder / "templates"
    assert cfg.paths.outbox == folder / "outbox"
    assert cfg.paths.database == f"sqlite:///{folder}/state/syndicate.db"
    assert cfg.paths.database.startswith("sqlite:////")  # an absolute SQLite path


def test_default_paths_resolve_too(tmp_path: Path) -> None:
    cfg = parse(MINIMAL, tmp_path / "config.toml")
    assert cfg.paths.articles == tmp_path / "articles"
    assert cfg.paths.output == tmp_path / "feeds"
    assert cfg.paths.database == f"sqlite:///{tmp_path}/state/syndicate.db"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    text = MINIMAL + '[paths]\narticles = "/data/articles"\ndatabase = "sqlite:////var/db/s.db"\n'
    cfg = parse(text, tmp_path / "config.toml")
    assert cfg.paths.articles == Path("/data/articles")
    assert cfg.paths.database == "sqlite:////var/db/s.db"


def test_non_sqlite_database_url_is_untouched(tmp_path: Path) -> None:
    url = "postgresql://user@db.example.org/syndicate"
    cfg = parse(MINIMAL + f'[paths]\ndatabase = "{url}"\n', tmp_path / "config.toml")
    assert cfg.paths.database == url


def test_in_memory_sqlite_url_is_not_turned_into_a_file(tmp_path: Path) -> None:
    cfg = parse(MINIMAL + '[paths]\ndatabase = "sqlite:///:memory:"\n', tmp_path / "config.toml")
    assert cfg.paths.database in ("sqlite:///:memory:", "sqlite://")


# --- errors name the key --------------------------------------------------------------------


def test_unknown_top_level_table() -> None:
    error = config_error(BUNDLED + "\n[sitee]\ntitle = 'x'\n")
    message = str(error)
    assert "sitee" in message
    assert "did you mean 'site'" in message
    assert "/srv/pub/config.toml" in message


def test_unknown_key_in_a_section_suggests_the_right_one() -> None:
    error = config_error(replaced('title = "The Astana Times"', 'titel = "The Astana Times"'))
    message = str(error)
    assert "site.titel" in message
    assert "did you mean 'title'" in message


def test_unknown_key_without_close_match_lists_known_keys() -> None:
    message = str(config_error(MINIMAL + "[feeds]\nzzzz = 1\n"))
    assert "feeds.zzzz" in message
    assert "did you mean" not in message
    assert "max_items" in message


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = replaced("port = 587", "port = 70000")
    text = text.replace("max_items = 20", 'max_items = "20"').replace("[cta]", "[cta]\nbuton = 1")
    error = config_error(text + '\n[[subscribers]]\nemail = "nobody"\n')
    keys = [problem.key for problem in error.problems]
    assert keys == ["feeds.max_items", "cta.buton", "smtp.port", "subscribers[1].email"]
    lines = str(error).splitlines()
    assert len(lines) == 4  # one a line, each naming the file and its key
    assert all(line.startswith("/srv/pub/config.toml: ") for line in lines)
    assert "cta.buton: unknown key (did you mean 'button'?)" in lines[1]
    assert "must be between 1 and 65535, not 70000" in lines[2]
    assert error.key == "feeds.max_items" and error.path == "/srv/pub/config.toml"


def test_a_single_problem_is_one_plain_error() -> None:
    error = config_error(replaced("port = 587", "port = 0"))
    assert error.problems == (error,)
    assert str(error) == "/srv/pub/config.toml: smtp.port: must be between 1 and 65535, not 0"


@pytest.mark.parametrize(
    ("table", "typo", "hint"),
    [("site", "titel", "title"), ("smtp", "prot", "port"), ("web", "listne", "listen"),
     ("email", "sender", "from"), ("email", "form", "from"), ("feeds", "maxitems", "max_items")],
)  # fmt: skip
def test_a_misspelt_key_gets_a_hint(table: str, typo: str, hint: str) -> None:
    error = config_error(MINIMAL.replace("[site]", f"[site]\n{typo} = 1") if table == "site"
                         else MINIMAL + f"[{table}]\n{typo} = 1\n")  # fmt: skip
    assert error.key == f"{table}.{typo}"
    assert f"unknown key (did you mean {hint!r}?)" in str(error)


def test_keys_filled_in_by_syndicate_are_not_config_keys() -> None:
    message = str(config_error('path = "/etc"\n' + MINIMAL))
    assert ": path: is not a config key" in message
    text = MINIMAL + '[[subscribers]]\nemail = "a@example.org"\nstatus = "bounced"\n'
    assert "subscribers[0].status: is not a config key" in str(config_error(text))
    assert "secrets never go in the config file" in str(
        config_error(MINIMAL + '[email]\nsecret = "x"\n')
    )


def test_the_cli_prints_each_problem_on_its_own_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(MINIMAL + "[smtp]\nport = 0\ntimeout = -1\n")
    done = subprocess.run(
        [sys.executable, "-m", "syndicate", "--config", "config.toml", "run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    config = tmp_path / "config.toml"
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"syndicate: error: {config}: smtp.port: must be between 1 and 65535, not 0",
        f"syndicate: error: {config}: smtp.timeout: must be between 0.1 and 3600, not -1",
    ]


def test_config_error_keeps_key_and_path_attributes() -> None:
    error = config_error(replaced("max_items = 20", 'max_items = "20"'))
    assert error.path == "/srv/pub/config.toml"
    assert error.key == "feeds.max_items"


@pytest.mark.parametrize(
    ("old", "new", "key", "fragment"),
    [
        ("max_items = 20", 'max_items = "20"', "feeds.max_items", "must be int"),
        ("max_items = 20", "max_items = true", "feeds.max_items", "must be int"),
        ("max_items = 20", "max_items = 2.5", "feeds.max_items", "must be int"),
        ("port = 587", 'port = "587"', "smtp.port", "must be int"),
        ('delivery = "file"', 'delivery = "fax"', "email.delivery", "must be one of"),
        ('security = "starttls"', 'security = "tls"', "smtp.security", "must be one of"),
        ('language = "en"', "language = 1", "site.language", "must be str"),
        ("[cta]", '[cta]\npatterns = "x"', "cta.patterns", "list of strings"),
        ("[cta]", "[cta]\npatterns = [1]", "cta.patterns", "list of strings"),
        ('links = { X = "https://x.com/TheAstanaTimes", ', "links = { X = 1, ", "cta.links", ""),
        ('articles = "articles"', "articles = 1", "paths.articles", ""),
    ],
)
def test_wrong_types_name_the_key(old: str, new: str, key: str, fragment: str) -> None:
    message = str(config_error(replaced(old, new)))
    assert f": {key}: " in message
    assert fragment in message


def test_rate_per_second_accepts_an_integer() -> None:
    cfg = parse(replaced("rate_per_second = 0", "rate_per_second = 5"))
    assert cfg.smtp.rate_per_second == 5


@pytest.mark.parametrize(
    "url", ["https://example.org", "example.org/", "ftp://example.org/", "/relative/", "https:///"]
)
def test_bad_site_url(url: str) -> None:
    message = str(config_error(replaced('url = "https://example.org/"', f'url = "{url}"')))
    assert "site.url" in message


def test_site_url_without_slash_suggests_the_fix() -> None:
    message = str(config_error(replaced('url = "https://example.org/"', 'url = "https://e.org"')))
    assert "site.url" in message
    assert "'https://e.org/'" in message


def test_bad_cta_url_and_hub() -> None:
    assert "cta.url" in str(
        config_error(
            replaced('url = "https://example.org/subscribe.html#email"', 'url = "subscribe"')
        )
    )
    assert "feeds.hub" in str(config_error(replaced('hub = ""', 'hub = "not a url"')))


@pytest.mark.parametrize("timeout", ["0", "-1", '"ten"'])
def test_bad_hub_timeout(timeout: str) -> None:
    message = str(config_error(replaced('hub = ""', f'hub = ""\nhub_timeout = {timeout}')))
    assert "feeds.hub_timeout" in message


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "../etc/passwd", "Europe/"])
def test_bad_timezone(tz: str) -> None:
    message = str(config_error(replaced('timezone = "Asia/Almaty"', f'timezone = "{tz}"')))
    assert "schedule.timezone" in message


@pytest.mark.parametrize(
    "expr", ["0 7 * *", "61 7 * * *", "0 7 * * 8", "@reboot", "0 7 * * fri-mon"]
)
def test_bad_crontab(expr: str) -> None:
    message = str(config_error(replaced('schedule = "0 7 * * *"', f'schedule = "{expr}"')))
    assert "digest.schedule" in message
    assert expr in message


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("ingest_interval = 300", "ingest_interval = 0", "schedule.ingest_interval"),
        ("max_items = 20", "max_items = 0", "feeds.max_items"),
        ("max_connections = 4", "max_connections = -1", "smtp.max_connections"),
        ("first_digest_days = 7", "first_digest_days = -1", "digest.first_digest_days"),
    ],
)
def test_out_of_range_numbers(old: str, new: str, key: str) -> None:
    assert key in str(config_error(replaced(old, new)))


def test_bad_regex_in_cta_patterns() -> None:
    message = str(config_error(replaced("[cta]", '[cta]\npatterns = ["ok", "(unclosed"]')))
    assert "cta.patterns[1]" in message
    assert "(unclosed" in message


def test_bad_subscriber_email() -> None:
    message = str(config_error(replaced('email = "reader@example.org"', 'email = "not-an-email"')))
    assert "subscribers[0].email" in message
    assert "not-an-email" in message


def test_subscriber_with_unknown_key() -> None:
    text = BUNDLED + '\n[[subscribers]]\nemail = "b@example.org"\nphone = "123"\n'
    assert "subscribers[1]" in str(config_error(text))


def test_subscriber_email_is_normalised() -> None:
    cfg = parse(MINIMAL + '[[subscribers]]\nemail = "Reader@EXAMPLE.org"\n')
    assert cfg.subscribers[0].email == "Reader@example.org"
    assert cfg.subscribers[0].name == ""


def test_bad_from_address() -> None:
    message = str(
        config_error(
            replaced('from = "The Astana Times <newsletter@example.org>"', 'from = "nobody"')
        )
    )
    assert "email.from" in message


def test_missing_site_table() -> None:
    without_site = BUNDLED.split("[paths]", 1)[1]
    assert "[site]" not in without_site
    message = str(config_error("[paths]" + without_site))
    assert ": site: " in message
    assert "required" in message


def test_missing_required_site_key() -> None:
    assert "site.url" in str(config_error('[site]\ntitle = "x"\n'))
    assert "site.title" in str(config_error('[site]\nurl = "https://e.org/"\n'))


def test_section_that_is_not_a_table() -> None:
    assert "feeds" in str(config_error(MINIMAL + 'feeds = "x"\n'))


def test_invalid_toml_names_the_file() -> None:
    message = str(config_error("[site\n"))
    assert "/srv/pub/config.toml" in message
    assert "TOML" in message


# --- secrets and e-mail defaults ------------------------------------------------------------


def test_secrets_come_only_from_the_env_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNDICATE_SECRET", "from-process-env")
    monkeypatch.setenv("SYNDICATE_SMTP_PASSWORD", "from-process-env")
    cfg = parse(BUNDLED, env={})
    assert cfg.email.secret is None
    assert cfg.smtp.password is None
    cfg = parse(BUNDLED, env={"SYNDICATE_SECRET": "s3cret", "SYNDICATE_SMTP_PASSWORD": "pw"})
    assert cfg.email.secret == "s3cret"
    assert cfg.smtp.password == "pw"
    assert "s3cret" not in repr(cfg)
    assert "'pw'" not in repr(cfg)


def test_secret_env_names_are_configurable() -> None:
    text = MINIMAL + '[email]\nsecret_env = "MY_SECRET"\n[smtp]\npassword_env = "MY_PW"\n'
    cfg = parse(text, env={"SYNDICATE_SECRET": "wrong", "MY_SECRET": "right", "MY_PW": "pw"})
    assert cfg.email.secret == "right"
    assert cfg.smtp.password == "pw"


def test_empty_env_value_means_no_secret() -> None:
    assert parse(MINIMAL, env={"SYNDICATE_SECRET": ""}).email.secret is None


@pytest.mark.parametrize(("section", "key"), [("email", "secret"), ("smtp", "password")])
def test_secrets_cannot_be_written_in_the_file(section: str, key: str) -> None:
    message = str(config_error(MINIMAL + f'[{section}]\n{key} = "plain"\n'))
    assert f"{section}.{key}" in message


def test_from_key_maps_to_sender() -> None:
    cfg = parse(BUNDLED)
    assert cfg.email.sender == "The Astana Times <newsletter@example.org>"
    message = str(config_error(MINIMAL + '[email]\nsender = "a@example.org"\n'))
    assert "email.sender" in message
    assert "from" in message


def test_default_sender_and_unsubscribe_url() -> None:
    cfg = parse(MINIMAL)
    assert cfg.email.sender == "Example News <newsletter@news.example.org>"
    assert cfg.email.unsubscribe_url == "https://news.example.org/unsubscribe?token={token}"
    assert "{token}" in parse(BUNDLED).email.unsubscribe_url


def test_unsubscribe_url_must_contain_token() -> None:
    bad = MINIMAL + '[email]\nunsubscribe_url = "https://e.org/unsub"\n'
    assert "email.unsubscribe_url" in str(config_error(bad))
    good = MINIMAL + '[email]\nunsubscribe_url = "https://e.org/u/{token}"\n'
    assert parse(good).email.unsubscribe_url == "https://e.org/u/{token}"


def test_config_is_frozen() -> None:
    cfg = parse(MINIMAL)
    with pytest.raises(AttributeError):
        cfg.site = cfg.site  # type: ignore[misc]
    with pytest.raises(TypeError):
        parse(BUNDLED).cta.links["X"] = "y"  # type: ignore[index]


def test_cta_patterns_compile() -> None:
    cfg = parse(replaced("[cta]", '[cta]\npatterns = ["(?i)^follow us"]'))
    assert cfg.cta.patterns == ("(?i)^follow us",)
    assert re.compile(cfg.cta.patterns[0]).search("Follow us on X")


# --- load_config ----------------------------------------------------------------------------


def test_load_config_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "config.toml"
    with pytest.raises(ConfigError) as info:
        load_config(missing, env={})
    assert str(missing) in str(info.value)
    assert "not found" in str(info.value)


def test_load_config_reads_file_and_resolves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.toml").write_text(BUNDLED, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(Path("config.toml"), env={"SYNDICATE_SECRET": "k"})
    assert cfg.path == tmp_path / "config.toml"
    assert cfg.paths.articles == tmp_path / "articles"
    assert cfg.email.secret == "k"


def test_load_config_accepts_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_config(path, env={}).site.title == "Example News"


def test_load_config_bad_encoding_is_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[site]\ntitle = "Caf\xe9"\nurl = "https://e.org/"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(path) in str(info.value)


def test_load_config_bundled_file() -> None:
    cfg = load_config(ROOT / "config.toml", env={})
    assert cfg.paths.articles == ROOT / "articles"
    assert (cfg.paths.articles / "000_f36433ad3d5972c7.txt").is_file()


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("port = 587", "port = 70000", "smtp.port"),  # would wrap to 4464
        ("port = 587", "port = 0", "smtp.port"),
        ("[smtp]", "[smtp]\ntimeout = 0", "smtp.timeout"),  # a non-blocking socket
        ("[smtp]", "[smtp]\ntimeout = 1e308", "smtp.timeout"),
        ("[smtp]", "[smtp]\ntimeout = inf", "smtp.timeout"),
        ("[smtp]", "[smtp]\ntimeout = nan", "smtp.timeout"),
        ('hub = ""', 'hub = ""\nhub_timeout = 1e308', "feeds.hub_timeout"),
        ('hub = ""', 'hub = ""\nmax_tags = 101', "feeds.max_tags"),
        ("[smtp]", "[smtp]\nlease = 1e308", "smtp.lease"),
        ("first_digest_days = 7", "first_digest_days = 1000000000", "digest.first_digest_days"),
        ("ingest_interval = 300", "ingest_interval = 99999999999", "schedule.ingest_interval"),
    ],
)
def test_every_number_is_checked_against_its_documented_range(old: str, new: str, key: str) -> None:
    message = str(config_error(replaced(old, new)))
    assert key in message and "must be between" in message
    low, high = RANGES[key]
    assert f"{low:g}–{high:g}" in README.split(f"`{key}`", 1)[1].split("\n", 1)[0]  # documented


README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


# --- secrets in files (what cron needs) ------------------------------------------------------


def _with_file(tmp_path: Path, content: str | None, mode: int = 0o600, name: str = "key") -> str:
    """A config naming `name` as [email] secret_file, with that file holding `content`."""
    if content is not None:
        (tmp_path / name).write_text(content)
        (tmp_path / name).chmod(mode)
    return MINIMAL + f'[email]\nsecret_file = "{name}"\n'


def _file_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text, tmp_path / "config.toml", env)
    message = str(info.value)
    assert str(tmp_path / "config.toml") in message and "email.secret_file" in message
    return message


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_a_secret_file_only_its_owner_can_use_is_read(tmp_path: Path, mode: int) -> None:
    cfg = parse(_with_file(tmp_path, "s3cret key\n", mode), tmp_path / "config.toml")
    assert cfg.email.secret == "s3cret key"  # the trailing newline of `echo ... >` dropped
    assert cfg.email.secret_file == str(tmp_path / "key")  # relative to the config's folder
    assert "s3cret" not in repr(cfg)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666])
def test_a_secret_file_others_can_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    message = _file_error(tmp_path, _with_file(tmp_path, "s3cret", mode))
    assert f"mode {mode:04o}" in message and "chmod 600" in message
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"", "is empty"), (b" \n\n", "is empty"), (b"x" * 70_000, "larger than"),
     (b"\xff\xfe", "not UTF-8")],
)  # fmt: skip
def test_an_empty_or_strange_secret_file_is_refused(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    (tmp_path / "key").write_bytes(content)
    (tmp_path / "key").chmod(0o600)
    assert expected in _file_error(tmp_path, _with_file(tmp_path, None))


def test_a_missing_secret_file_is_refused(tmp_path: Path) -> None:
    message = _file_error(tmp_path, _with_file(tmp_path, None))
    assert f"secret file {tmp_path / 'key'} does not exist" in message


def test_a_secret_file_must_be_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "key").mkdir(mode=0o700)
    assert "not a regular file" in _file_error(tmp_path, _with_file(tmp_path, None))
    os.mkfifo(tmp_path / "pipe", 0o600)  # opened without blocking, then refused
    assert "not a regular file" in _file_error(tmp_path, _with_file(tmp_path, None, name="pipe"))


def test_a_symlinked_secret_file_is_judged_by_its_target(tmp_path: Path) -> None:
    """The mode is checked on the opened file: a link (always 0777 itself) to a private file
    is fine, as secrets mounted by systemd or Kubernetes are; a link to a shared one is not."""
    (tmp_path / "private").write_text("k1")
    (tmp_path / "private").chmod(0o600)
    (tmp_path / "shared").write_text("k2")
    (tmp_path / "shared").chmod(0o644)
    for name, target in (("to-private", "private"), ("to-shared", "shared"), ("dangling", "no")):
        (tmp_path / name).symlink_to(tmp_path / target)
    private = parse(_with_file(tmp_path, None, name="to-private"), tmp_path / "config.toml")
    assert private.email.secret == "k1"
    assert "mode 0644" in _file_error(tmp_path, _with_file(tmp_path, None, name="to-shared"))
    assert "does not exist" in _file_error(tmp_path, _with_file(tmp_path, None, name="dangling"))


def test_secret_file_and_environment_must_agree(tmp_path: Path) -> None:
    text = _with_file(tmp_path, "k1\n")
    same = parse(text, tmp_path / "config.toml", {"SYNDICATE_SECRET": "k1"})
    assert same.email.secret == "k1"
    message = _file_error(tmp_path, text, {"SYNDICATE_SECRET": "k2"})
    assert "SYNDICATE_SECRET" in message and "different" in message and "k2" not in message
    unset = parse(text, tmp_path / "config.toml", {"SYNDICATE_SECRET": ""})
    assert unset.email.secret == "k1"  # an empty variable is no secret


def test_smtp_password_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("hunter2\n")
    (tmp_path / "pw").chmod(0o600)
    text = MINIMAL + '[smtp]\npassword_file = "pw"\n'
    assert parse(text, tmp_path / "config.toml").smtp.password == "hunter2"
    (tmp_path / "pw").chmod(0o640)
    with pytest.raises(ConfigError, match=r"smtp\.password_file: .*mode 0640"):
        parse(text, tmp_path / "config.toml")
    (tmp_path / "pw").chmod(0o600)
    with pytest.raises(ConfigError, match=r"smtp\.password_file: .*SYNDICATE_SMTP_PASSWORD"):
        parse(text, tmp_path / "config.toml", {"SYNDICATE_SMTP_PASSWORD": "other"})


def test_web_defaults_follow_the_site() -> None:
    cfg = parse(MINIMAL)
    assert cfg.web.url == "https://news.example.org/" and cfg.web.static is True
    assert cfg.web.host_port == ("127.0.0.1", 8080) and cfg.web.confirm_days == 7
    assert cfg.email.unsubscribe_url == "https://news.example.org/unsubscribe?token={token}"
    elsewhere = parse(
        MINIMAL + '[web]\nurl = "https://join.example.net/news/"\nlisten = "[::1]:9000"\n'
    )
    assert (
        elsewhere.email.unsubscribe_url == "https://join.example.net/news/unsubscribe?token={token}"
    )
    assert elsewhere.web.host_port == ("::1", 9000)


@pytest.mark.parametrize(
    ("lines", "key"),
    [
        ('url = "https://join.example.net"', "web.url"),
        ('url = "join/"', "web.url"),
        ('listen = "8080"', "web.listen"),
        ('listen = "localhost:99999"', "web.listen"),
        ("static = 1", "web.static"),
        ("confirm_days = 0", "web.confirm_days"),
        ("signups_per_hour = -1", "web.signups_per_hour"),
        ("confirmations_per_day = 0", "web.confirmations_per_day"),
        ('trusted_proxies = "127.0.0.1"', "web.trusted_proxies"),
        ("listne = 1", "web.listne"),
    ],
)
def test_bad_web_settings_name_their_key(lines: str, key: str) -> None:
    assert key in str(config_error(MINIMAL + f"[web]\n{lines}\n"))
