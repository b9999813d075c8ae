"""Chinese by default, English selectable and remembered; both catalogues complete."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.helpers import login, post, soup

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = {
    "zh_Hans_CN": ROOT / "portal/translations/zh_Hans_CN/LC_MESSAGES/messages.po",
    "en": ROOT / "portal/translations/en/LC_MESSAGES/messages.po",
}
PLACEHOLDER = re.compile(r"%\(\w+\)s")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    """Every translatable string in the code and templates, extracted afresh."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            "--no-location",
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


@pytest.mark.parametrize("locale", CATALOGUES)
def test_catalogue_is_complete(extracted, locale):
    with CATALOGUES[locale].open("rb") as fh:
        catalogue = read_po(fh)
    translated = {m.id: m for m in catalogue if m.id}
    missing = extracted - translated.keys()
    assert not missing, f"{locale} lacks: {sorted(missing)}"
    for msgid in extracted:
        message = translated[msgid]
        assert not message.fuzzy, f"{locale}: fuzzy translation for {msgid!r}"
        # A plural message has a tuple of ids and one string per plural form of the language.
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            assert string, f"{locale}: empty translation for {msgid!r}"
            assert sorted(PLACEHOLDER.findall(string)) == sorted(PLACEHOLDER.findall(ids[-1])), (
                f"{locale}: placeholders differ in {msgid!r}"
            )
            # Flask-Babel always %-formats, so a lone % (not %(name)s or %%) fails at render.
            assert not re.search(r"%(?!\(\w+\)s)", string.replace("%%", "")), (
                f"{locale}: a lone % in {string!r}; write %%"
            )


def test_templates_have_no_untranslated_visible_text():
    """Every text node in the templates is either a gettext call or has no letters."""
    offenders = []
    for path in (ROOT / "portal/templates").rglob("*.html"):
        text = path.read_text()
        text = re.sub(r"{#.*?#}|{%.*?%}|{{.*?}}", " ", text, flags=re.S)
        text = re.sub(r"<[^>]*>", " ", text, flags=re.S)
        for word in re.findall(r"[A-Za-z]{3,}", text):
            offenders.append(f"{path.name}: {word}")
    assert not offenders, offenders


def html_lang(response) -> str:
    return soup(response).find("html")["lang"]


def test_chinese_is_the_default(client):
    page = client.get("/auth/login")
    assert html_lang(page) == "zh-CN"
    form = soup(page).find(id="login-form")
    assert form.find("button", attrs={"type": "submit"}).get_text(strip=True) == "登录"


def test_visitor_switches_to_english_and_it_is_remembered(client):
    response = post(client, "/language", {"lang": "en", "next": "/auth/register"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/register"
    page = client.get("/auth/register")
    assert html_lang(page) == "en"
    assert soup(page).find("h1").get_text(strip=True) == "Create your account"
    switch = soup(page).find(attrs={"data-testid": "lang-zh_CN"})
    assert switch.get_text(strip=True) == "中文"


def test_language_is_remembered_per_user_on_other_devices(app, client, make_customer):
    account = make_customer()
    login(client, account)
    post(client, "/language", {"lang": "en", "next": "/"})
    other_device = app.test_client()
    assert html_lang(other_device.get("/")) == "zh-CN"
    login(other_device, account)
    assert html_lang(other_device.get("/")) == "en"


def test_unknown_language_is_refused(client):
    response = post(client, "/language", {"lang": "xx", "next": "/"})
    assert response.status_code == 422
    assert html_lang(client.get("/")) == "zh-CN"


def test_language_switch_keeps_next_safe(client):
    response = post(client, "/language", {"lang": "en", "next": "//evil.example/"})
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("zh_CN", "第 &lt;3&gt; 行：&amp;|已绑定|1 parcel|2 parcels"),
        ("en", "Row &lt;3&gt;: &amp;|Bound|1 parcel|2 parcels"),
    ],
)
def test_templates_translate_once_per_render_like_flask_babel(app, locale, expected):
    """The per-render gettext gives what Flask-Babel's would: translated, variables escaped,
    the plural form chosen by number (no plural is translated yet, so English falls through)."""
    from flask import render_template_string
    from flask_babel import force_locale

    source = (
        '{{ _("Row %(line)s: %(message)s", line="<3>", message="&") }}|{{ _("Bound") }}|'
        '{{ ngettext("%(num)s parcel", "%(num)s parcels", 1) }}|'
        '{{ ngettext("%(num)s parcel", "%(num)s parcels", 2) }}'
    )
    with app.test_request_context(), force_locale(locale):
        assert render_template_string(source) == expected
