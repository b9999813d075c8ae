"""The ways an account logs in that a customer adds or removes later: a mobile number, a first
password (for accounts made by a WeChat or 物流通 login), and unlinking another system."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import ExternalLogin, User
from portal.services import accounts
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


def has_other_login(user: User, provider: str) -> bool:
    """Whether the user could still log in without `provider`: a mobile number or email with
    a password, or a link of another system."""
    if (user.phone or user.email) and user.password_hash:
        return True
    return (
        db.session.scalar(
            select(ExternalLogin.id).where(
                ExternalLogin.user_id == user.id, ExternalLogin.provider != provider
            )
        )
        is not None
    )


def unlink(user: User, provider: str, not_linked: str) -> None:
    """Remove the account's link to `provider`; raises ValidationFailed (`not_linked` when
    there is none) or when it is the only way left to log in.

    The account's row is locked first, so two unlinks of its last two links cannot both pass
    the check."""
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    link = accounts.external_login_of(user, provider)
    if link is None:
        raise ValidationFailed(not_linked)
    if not has_other_login(user, provider):
        raise ValidationFailed(
            _l("Add a mobile number and a password first, or you could not log in any more.")
        )
    db.session.delete(link)
    db.session.flush()
