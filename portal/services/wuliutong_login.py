"""Logging in with a 物流通 account: the sister system checks the password (never stored here),
then the local customer linked to that account logs in, linked or created on first success."""

import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.gateways.wuliutong import (
    DISABLED,
    VERIFIED,
    ForgedAnswer,
    SisterAccount,
    SisterUnavailable,
    WuliutongClient,
)
from portal.gateways.wuliutong_config import wuliutong_client
from portal.models import ExternalLogin, User, utcnow
from portal.services import accounts, login_methods, recharges, throttle
from portal.services.errors import DomainError, LoginRefused, ValidationFailed
from portal.services.identifiers import parse_phone

log = logging.getLogger(__name__)

PROVIDER = "wuliutong"
NOT_ANSWERING = _l(
    "物流通 is not answering right now. If you have set a password on this portal, you can "
    "still log in with your mobile number or email on the other tab."
)


class SisterNotAnswering(DomainError):
    """物流通 gave no answer we can use; a local password still works."""


def _refused(message, retry_after: int = 0) -> LoginRefused:
    refused = LoginRefused(message, retry_after)
    refused.field = "account"
    return refused


def _checked(
    account: str, password: str, remote_addr: str, client: WuliutongClient | None
) -> SisterAccount:
    """The 物流通 account once the sister system accepted its password (attempts counted per
    account name, case-insensitively, before it is asked; given back when it does not answer,
    but not when its answer is forged)."""
    name = account.strip()
    throttle_name = f"{PROVIDER}:{name.casefold()}"
    wait = throttle.claim_attempt(throttle_name)
    if wait:
        raise _refused(
            _l("Too many attempts. Try again in %(seconds)s seconds.", seconds=wait), wait
        )
    try:
        verdict = (client or wuliutong_client()).verify(name, password)
    except ForgedAnswer as err:
        log.warning("物流通 answer refused: %s", err.reason)
        detail = {"reason": err.reason, "account": name[:64]}
        recharges.record_security_event("wuliutong_forged_answer", detail, remote_addr)
        raise SisterNotAnswering(NOT_ANSWERING) from None
    except SisterUnavailable as err:
        log.warning("物流通 did not answer: %s", err.reason)
        throttle.give_back_attempt(throttle_name)  # no password was checked
        raise SisterNotAnswering(NOT_ANSWERING) from None
    if verdict.outcome == DISABLED:
        raise _refused(_l("This 物流通 account is disabled. Please contact 物流通."))
    if verdict.outcome != VERIFIED or verdict.account is None:
        raise _refused(_l("Wrong 物流通 account or password."))
    throttle.clear_failures(throttle_name)
    return verdict.account


def log_in_with_wuliutong(
    account: str,
    password: str,
    locale: str | None = None,
    remote_addr: str = "",
    client: WuliutongClient | None = None,
) -> User:
    """Have 物流通 check the account and password and return the local customer it logs in
    as; raises LoginRefused (wrong, disabled, too many attempts) or SisterNotAnswering.

    Attempts are counted before the sister system is asked, so the caller must commit even
    when this raises.
    """
    sister = _checked(account, password, remote_addr, client)
    link = accounts.find_external(PROVIDER, sister.account_id)
    if link is None:
        link = _link_first_login(sister, locale)
    user = link.user
    if user.is_disabled:
        raise _refused(_l("This account has been disabled. Please contact customer service."))
    if user.locale is None:
        accounts.set_locale(user, locale)
    link.display_name = sister.display_name[:64]
    link.last_login_at = user.last_login_at = utcnow()
    db.session.flush()
    return user


def bind_wuliutong(
    user: User,
    account: str,
    password: str,
    remote_addr: str = "",
    client: WuliutongClient | None = None,
) -> ExternalLogin:
    """Link the 物流通 account whose password the customer gave to their (logged-in) account;
    raises LoginRefused, SisterNotAnswering or ValidationFailed (linked elsewhere already, or
    the account has another 物流通 link). The caller commits even when this raises."""
    sister = _checked(account, password, remote_addr, client)
    link = accounts.find_external(PROVIDER, sister.account_id)
    if link is not None and link.user_id == user.id:
        return link
    if link is not None:
        raise ValidationFailed(_l("This 物流通 account is linked to another account."), "account")
    if accounts.external_login_of(user, PROVIDER) is not None:
        raise ValidationFailed(_l("Your account is linked to another 物流通 account."), "account")
    return accounts.link_external(
        user, PROVIDER, sister.account_id, display_name=sister.display_name
    )


def unbind_wuliutong(user: User) -> None:
    """Remove the account's 物流通 link; raises ValidationFailed when there is none or when it
    is the only way left to log in."""
    login_methods.unlink(user, PROVIDER, _l("Your account is not linked to 物流通."))


def _verified_phone(sister: SisterAccount) -> str | None:
    if not sister.phone_verified or not sister.phone:
        return None
    try:
        return parse_phone(sister.phone)
    except ValidationFailed:
        return None


def _link_first_login(sister: SisterAccount, locale: str | None) -> ExternalLogin:
    """Link a new customer to the account, with its verified mobile number unless a local
    account has that number.

    An existing local account with the same number is never linked: our numbers are not
    verified, so whoever registered the number here would be let into the 物流通 customer's
    account. A customer who has both links them on the account page, after logging in."""
    phone = _verified_phone(sister)
    try:
        with db.session.begin_nested():
            user = accounts.register_passwordless_customer(locale=locale)
            if phone:
                _give_phone(user, phone)
            return accounts.link_external(
                user, PROVIDER, sister.account_id, display_name=sister.display_name
            )
    except ValidationFailed:
        link = accounts.find_external(PROVIDER, sister.account_id)
        if link is None:
            raise
        return link  # a parallel first login of the same account was quicker


def _give_phone(user: User, phone: str) -> None:
    """Keep the verified mobile number on the new customer, unless a local account has it."""
    if db.session.scalar(select(User.id).where(User.phone == phone)) is not None:
        return
    try:
        with db.session.begin_nested():
            user.phone = phone
            db.session.flush()
    except IntegrityError:
        db.session.refresh(user)
