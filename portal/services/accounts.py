"""Accounts: registration, login, password changes, sessions and staff roles."""

from flask import g
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import STAFF_ROLES, ExternalLogin, User, UserRole, utcnow
from portal.services import coupons, session_users, throttle
from portal.services.codes import ALPHABET, new_customer_code, new_invite_code, normalise_code
from portal.services.errors import LoginRefused, ValidationFailed
from portal.services.identifiers import LoginIdentifier, parse_identifier
from portal.services.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)

CODE_ATTEMPTS = 10
# An account someone can log in to with a password now (staff log in with theirs).
CAN_LOG_IN = (User.is_disabled.is_(False), User.password_hash.is_not(None))


def find_user(identifier: LoginIdentifier) -> User | None:
    column = User.phone if identifier.kind == "phone" else User.email
    return db.session.execute(select(User).where(column == identifier.value)).scalar_one_or_none()


def _taken_error(identifier: LoginIdentifier) -> ValidationFailed:
    if identifier.kind == "phone":
        return ValidationFailed(_l("This mobile number is already registered."), "identifier")
    return ValidationFailed(_l("This email address is already registered."), "identifier")


def find_referrer(invite_code: str) -> User:
    """The user owning an invite code; raises ValidationFailed for an unknown code."""
    code = normalise_code(invite_code)
    # Only a code we could have issued is looked up (PostgreSQL refuses NUL bytes in a query).
    if not set(code) <= set(ALPHABET):
        raise ValidationFailed(_l("This invite code does not exist."), "invite_code")
    referrer = db.session.execute(select(User).where(User.invite_code == code)).scalar_one_or_none()
    if referrer is None or referrer.is_disabled:
        raise ValidationFailed(_l("This invite code does not exist."), "invite_code")
    return referrer


def _code_taken(column, code: str) -> bool:
    return db.session.scalar(select(func.count()).select_from(User).where(column == code)) > 0


def _insert_with_unique_codes(user: User, ident: LoginIdentifier | None) -> None:
    """Give the new user a customer code and an invite code nobody holds, and insert it."""
    for _ in range(CODE_ATTEMPTS):
        user.customer_code = new_customer_code()
        user.invite_code = new_invite_code()
        if _code_taken(User.customer_code, user.customer_code) or _code_taken(
            User.invite_code, user.invite_code
        ):
            continue
        try:
            with db.session.begin_nested():
                db.session.add(user)
                db.session.flush()
            return
        except IntegrityError:
            # Either a code was taken meanwhile (try again) or the login was registered
            # by a parallel request.
            if ident is not None and find_user(ident) is not None:
                raise _taken_error(ident) from None
    raise RuntimeError("could not find a free customer code")


def register_customer(
    identifier: str, password: str, invite_code: str = "", locale: str | None = None
) -> User:
    """Create a customer account with its welcome coupons; raises ValidationFailed for a bad
    or taken field."""
    user = _create_account(identifier, password, invite_code, locale)
    coupons.welcome(user)
    return user


def _create_account(
    identifier: str, password: str, invite_code: str = "", locale: str | None = None
) -> User:
    ident = parse_identifier(identifier)
    check_password_policy(password)
    referrer = find_referrer(invite_code) if invite_code and invite_code.strip() else None
    if find_user(ident) is not None:
        raise _taken_error(ident)
    user = User(
        phone=ident.value if ident.kind == "phone" else None,
        email=ident.value if ident.kind == "email" else None,
        password_hash=hash_password(password),
        referred_by=referrer,
        locale=locale,
    )
    _insert_with_unique_codes(user, ident)
    return user


def register_passwordless_customer(invite_code: str = "", locale: str | None = None) -> User:
    """Create a customer account with no login of its own yet (made by a WeChat or 物流通 login,
    which the caller links with `link_external`); an unknown invite code is ignored, since the
    visitor cannot correct it on another system's page."""
    try:
        referrer = find_referrer(invite_code) if invite_code and invite_code.strip() else None
    except ValidationFailed:
        referrer = None
    user = User(password_hash=None, referred_by=referrer, locale=locale)
    _insert_with_unique_codes(user, None)
    coupons.welcome(user)
    return user


def create_invited_staff(ident: LoginIdentifier, roles: list[str]) -> User:
    """A staff account with this login and these roles and no password yet (the invitation
    link sets it); raises ValidationFailed when a parallel request registered the login."""
    user = User(
        phone=ident.value if ident.kind == "phone" else None,
        email=ident.value if ident.kind == "email" else None,
        password_hash=None,
    )
    _insert_with_unique_codes(user, ident)
    for role in roles:
        user.roles.append(UserRole(role=role))
    db.session.flush()
    return user


def find_external(provider: str, subject: str) -> ExternalLogin | None:
    """The link of another system's account (WeChat unionid/openid, 物流通 id) to a local user."""
    return db.session.scalar(
        select(ExternalLogin).where(
            ExternalLogin.provider == provider, ExternalLogin.subject == subject
        )
    )


def external_login_of(user: User, provider: str) -> ExternalLogin | None:
    return db.session.scalar(
        select(ExternalLogin).where(
            ExternalLogin.user_id == user.id, ExternalLogin.provider == provider
        )
    )


def link_external(
    user: User, provider: str, subject: str, openid: str | None = None, display_name: str = ""
) -> ExternalLogin:
    """Link another system's account to `user`; raises ValidationFailed when that account is
    already linked to someone else or the user already has one of this provider."""
    if find_external(provider, subject) is not None or external_login_of(user, provider):
        raise ValidationFailed(_l("This account is already linked."), "provider")
    link = ExternalLogin(
        user_id=user.id,
        provider=provider,
        subject=subject,
        openid=openid,
        display_name=display_name[:64],
    )
    try:
        with db.session.begin_nested():
            db.session.add(link)
            db.session.flush()
    except IntegrityError:
        raise ValidationFailed(_l("This account is already linked."), "provider") from None
    return link


def authenticate(identifier: str, password: str) -> User:
    """Check a login; raises LoginRefused without telling whether the account exists.

    The attempt is counted before the password is checked, so the caller must commit even
    when this raises.
    """
    ident = parse_identifier(identifier)
    wait = throttle.claim_attempt(ident.value)
    if wait:
        raise LoginRefused(
            _l("Too many attempts. Try again in %(seconds)s seconds.", seconds=wait), wait
        )
    user = find_user(ident)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise LoginRefused(_l("Wrong account or password."))
    if user.is_disabled:
        raise LoginRefused(_l("This account has been disabled. Please contact customer service."))
    throttle.clear_failures(ident.value)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def end_sessions(user: User) -> None:
    """Invalidate every session and remember cookie the user holds, on every device."""
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(user, ["session_version"])


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Replace the password after checking the current one; ends every other session."""
    if not verify_password(user.password_hash, current_password):
        raise ValidationFailed(_l("The current password is wrong."), "current_password")
    check_password_policy(new_password, "new_password")
    user.password_hash = hash_password(new_password)
    db.session.flush()
    end_sessions(user)


def set_disabled(actor: User, user: User, disabled: bool) -> None:
    """Disable (or re-enable) an account; disabling ends all its sessions at once."""
    if actor.id == user.id and disabled:
        raise ValidationFailed(_l("You cannot disable your own account."))
    user.is_disabled = disabled
    db.session.flush()
    if disabled:
        end_sessions(user)


def set_locale(user: User, locale: str) -> None:
    user.locale = locale


def load_session_user(token: str) -> User | None:
    """Resolve Flask-Login's stored id "<user id>:<session version>" to an active user."""
    user_id, _, version = token.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = session_users.load(int(user_id), g.get("table_versions"))
    if user is None or user.is_disabled or user.session_version != int(version):
        return None
    return user


def create_staff(identifier: str, password: str, roles: list[str]) -> User:
    """Create a staff user, or add roles to an existing account (password left as is)."""
    unknown = set(roles) - set(STAFF_ROLES)
    if unknown or not roles:
        raise ValidationFailed(_l("Unknown staff role."), "roles")
    ident = parse_identifier(identifier)
    user = find_user(ident)
    if user is None:
        user = _create_account(identifier, password)
    for role in sorted(set(roles) - user.role_names):
        user.roles.append(UserRole(role=role))
    db.session.flush()
    return user
