"""Home page (landing for visitors, the customer's start page once logged in) and language."""

from flask import render_template, url_for
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect
from portal.i18n import remember_language
from portal.main import bp
from portal.main.forms import LanguageForm
from portal.quote.offers import country_choices
from portal.security import safe_next
from portal.services import accounts, rate_cards
from portal.services.dashboard import active_warehouses, home_summary


@bp.route("/")
def index():
    countries = country_choices(rate_cards.channels_in_force(rate_cards.business_today()))
    if current_user.is_authenticated:
        return render_template(
            "main/home.html", summary=home_summary(current_user), quote_countries=countries
        )
    return render_template(
        "main/landing.html", warehouses=active_warehouses(), quote_countries=countries
    )


@bp.route("/language", methods=["GET", "POST"])
def set_language():
    form = LanguageForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("main/language.html", form=form), status
    if current_user.is_authenticated:
        accounts.set_locale(current_user, form.lang.data)
        db.session.commit()
    response = hx_redirect(safe_next(form.next.data, url_for("main.index")))
    remember_language(response, form.lang.data)
    return response
