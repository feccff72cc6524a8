"""The digest HTML against real clients' support data and the HTML standard: caniemail data via
npm @jsx-email/doiuse-email (node) and the Nu Html Checker (npm vnu-jar, java). `.ci/run`
installs both into .cache/node; without node or java these tests skip, saying why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from syndicate.render.common import make_environment
from syndicate.render.digest import personalise, render_digest

from .factories import TEMPLATES, make_site, newest_first

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = Path(
    os.environ.get("SYNDICATE_NODE_MODULES", ROOT / ".cache" / "node" / "node_modules")
)
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
CLIENTS = ("gmail.*", "apple-mail.*", "outlook.*", "yahoo.*")

# Features some of these clients drop, each kept because losing it leaves the email whole:
GRACEFUL = {
    "@media": "responsive and dark-mode tweaks; the layout is fluid without them",
    "<body> element": "body styles are repeated on the wrapper table",
    "role attribute": "role=presentation only helps screen readers",
    # The preheader is hidden in layers (caniemail: no one property hides it everywhere; Gmail's
    # mobile web drops display:none): max-height/max-width 0, font-size/line-height 0, text in
    # the background colour, and (Outlook on Windows) mso-hide:all each hide it where the others
    # are dropped.
    "display:none": "one layer of the preheader's hiding; the others hold where it is dropped",
    "opacity": "one layer of the preheader's hiding; the others hold where it is dropped",
    "overflow": "one layer of the preheader's hiding; the others hold where it is dropped",
    "visibility": "one layer of the preheader's hiding; the others hold where it is dropped",
    "aria-label attribute": "names the message for screen readers; without it nothing changes",
    "border-radius": "the button gets square corners",
}


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    site = make_site(
        cta_links={"Mastodon": "https://social.example/@gazette"},
        address="Gazette Ltd, 1 Harbour Road, Helsinki",
    )
    digest = render_digest(
        make_environment(TEMPLATES), site, newest_first(4),
        digest_id="2024-03-15", created=datetime(2024, 3, 15, 7, tzinfo=UTC),
    )  # fmt: skip
    email_html, _ = personalise(
        digest, {"email": "bob@example.com", "unsubscribe_url": "https://example.org/u?token=a.b"}
    )
    folder = tmp_path_factory.mktemp("clients")
    paths = {"email": folder / "email.html", "web": folder / "web.html"}
    paths["email"].write_text(email_html, "utf-8")
    paths["web"].write_text(digest.web_html, "utf-8")
    return paths


def _need(tool: str, path: Path) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.skip(f"{tool} is not installed (.ci/run installs it)")
    if not path.exists():
        pytest.skip(
            f"{path} is missing: run `npm install --prefix .cache/node ...` as .ci/run does"
        )
    return found


def _doiuse(path: Path) -> dict[str, Any]:
    node = _need("node", NODE_MODULES / "@jsx-email" / "doiuse-email")
    done = subprocess.run(
        [node, str(Path(__file__).parent / "tools" / "doiuse.cjs"), str(path), *CLIENTS],
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_no_feature_that_breaks_the_email_in_gmail_apple_outlook_yahoo(
    documents: dict[str, Path],
) -> None:
    errors = _doiuse(documents["email"])["errors"]
    assert errors, "the linter found nothing at all: is it checking the file?"
    features = {error.split("`")[1] for error in errors}
    assert features <= set(GRACEFUL), "\n".join(errors)


@pytest.mark.parametrize("part", ["email", "web"])
def test_valid_html_per_the_nu_html_checker(documents: dict[str, Path], part: str) -> None:
    java = _need("java", VNU_JAR)
    done = subprocess.run(
        [java, "-jar", str(VNU_JAR), "--errors-only", "--format", "text", str(documents[part])],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout


def test_layout_is_fluid_single_column_with_dark_mode_and_system_fonts(
    documents: dict[str, Path],
) -> None:
    html = documents["email"].read_text()
    assert 'class="container" width="100%"' in html and "max-width:600px" in html
    assert '<!--[if mso]><table role="presentation" width="600"' in html  # Outlook's fixed column
    assert "@media (prefers-color-scheme: dark)" in html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "-apple-system, BlinkMacSystemFont" in html and "@font-face" not in html


def test_preheader_cta_and_footer(documents: dict[str, Path]) -> None:
    html = documents["email"].read_text()
    body = html.split("<body", 1)[1]
    assert body.index('class="preheader"') < body.index('class="masthead"')  # first text
    assert "Story number 4 · Story number 3" in body
    # the reader already gets it: the call-to-action speaks to whoever it was forwarded to
    cta = body.split('class="cta"', 1)[1].split("</td>", 1)[0]
    assert "Forwarded this? Subscribe at" in cta and 'href="https://example.org/join"' in cta
    assert 'class="button-cell"' in documents["web"].read_text()  # the web version's button
    assert 'href="https://social.example/@gazette"' in body and ">Mastodon</a>" in body
    footer = body.split('class="footer"', 1)[1]
    assert "You receive this because bob@example.com subscribed to The Gazette" in footer
    assert 'href="https://example.org/u?token=a.b"' in footer and ">Unsubscribe</a>" in footer
    assert "Gazette Ltd, 1 Harbour Road, Helsinki" in footer
