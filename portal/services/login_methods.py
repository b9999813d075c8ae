"""The ways an account logs in that a customer adds later: a mobile number, a first password
(for accounts made by a WeChat or 物流通 login)."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import User
from portal.services.errors import ValidationFailed
from portal.services.identifiers import parse_identifier
from portal.services.passwords import check_password_policy, hash_password


def add_phone(user: User, raw: str) -> None:
    """Give an account without a mobile number one; raises ValidationFailed (field "phone")
    for a bad or taken number, or when the account has one already."""
    if user.phone:
        raise ValidationFailed(_l("Your account has a mobile number already."), "phone")
    try:
        ident = parse_identifier(raw)
    except ValidationFailed as err:
        raise ValidationFailed(err.message, "phone") from None
    if ident.kind != "phone":
        raise ValidationFailed(_l("Enter a valid mobile number."), "phone")
    taken = _l("This mobile number is already registered.")
    if db.session.scalar(select(func.count()).select_from(User).where(User.phone == ident.value)):
        raise ValidationFailed(taken, "phone")
    try:
        with db.session.begin_nested():
            user.phone = ident.value
            db.session.flush()
    except IntegrityError:
        raise ValidationFailed(taken, "phone") from None


def set_first_password(user: User, password: str) -> None:
    """Give an account without a password one; raises ValidationFailed for a weak password or
    when the account has one (that is changed with the current password)."""
    if user.password_hash:
        raise ValidationFailed(_l("Your account has a password already."), "new_password")
    check_password_policy(password, "new_password")
    user.password_hash = hash_password(password)
    db.session.flush()
