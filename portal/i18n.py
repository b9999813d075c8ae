"""Locale selection: the user's saved choice, then the visitor's cookie, then zh_CN."""

from functools import lru_cache

from flask import current_app, has_request_context, request
from flask_babel import get_translations
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

LANG_COOKIE = "lang"
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in languages:
        return cookie
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def bound_gettext() -> dict:
    """Template `gettext` / `ngettext` bound to this render's translations.

    They behave like Jinja's new-style gettext that Flask-Babel installs, but look the
    translations up once per render instead of once per string (a third of a list page's time).
    """
    return _bound_to(get_translations())


@lru_cache(maxsize=16)
def _bound_to(translations) -> dict:
    """The pair for one catalogue (Flask-Babel keeps one object per language and folder)."""

    @pass_context
    def gettext(context, string: str, **variables):
        text = translations.gettext(string)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - catalogue text; `%` escapes the variables
        return text % variables

    @pass_context
    def ngettext(context, singular: str, plural: str, num: int, **variables):
        variables.setdefault("num", num)
        text = translations.ngettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - catalogue text; `%` escapes the variables
        return text % variables

    return {"gettext": gettext, "ngettext": ngettext}


def remember_language(response, locale: str | None) -> None:
    """Keep the language for this browser too, so it survives logging out."""
    if locale in current_app.config["LANGUAGES"]:
        response.set_cookie(
            LANG_COOKIE,
            locale,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
        )


def format_fen(amount_fen: int) -> str:
    """Integer fen as yuan with two decimals, e.g. 123456 -> "1,234.56" (no float involved)."""
    sign = "-" if amount_fen < 0 else ""
    yuan, fen = divmod(abs(amount_fen), 100)
    return f"{sign}{yuan:,}.{fen:02d}"


def format_yuan(amount_fen: int) -> str:
    """¥1,234.56; a negative amount (a discount, an adjustment) as −¥5.00."""
    if amount_fen < 0:
        return "−¥" + format_fen(-amount_fen)
    return "¥" + format_fen(amount_fen)


def format_kg(grams: int) -> str:
    """Integer grams as kg, trailing zeros dropped but one decimal kept: 1200 -> "1.2"."""
    kg, rest = divmod(grams, 1000)
    decimals = f"{rest:03d}".rstrip("0") or "0"
    return f"{kg}.{decimals}"
