"""Logging in with WeChat: find or create the account of a WeChat identity, bind and unbind."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.models import ExternalLogin, User, utcnow
from portal.services import accounts, login_methods
from portal.services.errors import LoginRefused, ValidationFailed

PROVIDER = "wechat"


@dataclass(frozen=True)
class WeChatIdentity:
    """Who WeChat says the person is (openid is per app, unionid the same across our apps)."""

    openid: str
    unionid: str = ""
    nickname: str = ""

    @property
    def subject(self) -> str:
        return self.unionid or self.openid


def find_link(identity: WeChatIdentity) -> ExternalLogin | None:
    """The link of this WeChat identity: by unionid, else by openid (as the subject of an
    account first seen without unionid, or as the openid kept beside a unionid). A unionid seen
    for the first time replaces the openid as the subject."""
    link = accounts.find_external(PROVIDER, identity.unionid) if identity.unionid else None
    if link is None:
        link = accounts.find_external(PROVIDER, identity.openid)
        if link is not None and identity.unionid:
            link.subject = identity.unionid
    if link is None:
        link = db.session.scalars(
            select(ExternalLogin)
            .where(ExternalLogin.provider == PROVIDER, ExternalLogin.openid == identity.openid)
            .order_by(ExternalLogin.id)
        ).first()
    return link


def _seen(link: ExternalLogin, identity: WeChatIdentity) -> None:
    link.openid = identity.openid
    if identity.nickname:
        link.display_name = identity.nickname[:64]
    link.last_login_at = utcnow()


def log_in_with_wechat(
    identity: WeChatIdentity, invite_code: str = "", locale: str | None = None
) -> tuple[User, bool]:
    """The account of this WeChat identity, made (with its welcome coupons) on first login;
    returns it and whether it is new. Raises LoginRefused for a disabled account; a parallel
    first login of the same identity logs in to the account it made."""
    link = find_link(identity)
    created = False
    if link is None:
        try:
            with db.session.begin_nested():
                user = accounts.register_passwordless_customer(invite_code, locale)
                link = accounts.link_external(
                    user, PROVIDER, identity.subject, identity.openid, identity.nickname
                )
            created = True
        except ValidationFailed:
            link = find_link(identity)  # a parallel first login of this identity was quicker
            if link is None:
                raise
    user = link.user
    if user.is_disabled:
        raise LoginRefused(_l("This account has been disabled. Please contact customer service."))
    _seen(link, identity)
    user.last_login_at = utcnow()
    db.session.flush()
    return user, created


def bind_wechat(user: User, identity: WeChatIdentity) -> ExternalLogin:
    """Link this WeChat identity to the customer's account; raises ValidationFailed when it
    belongs to another account or the account has another WeChat already."""
    link = find_link(identity)
    if link is not None and link.user_id != user.id:
        raise ValidationFailed(_l("This WeChat account is linked to another account."))
    if link is not None:
        _seen(link, identity)
        return link
    if accounts.external_login_of(user, PROVIDER) is not None:
        raise ValidationFailed(_l("Your account is linked to another WeChat account."))
    return accounts.link_external(
        user, PROVIDER, identity.subject, identity.openid, identity.nickname
    )


def unbind_wechat(user: User) -> None:
    """Remove the account's WeChat link; raises ValidationFailed when there is none or when it
    is the only way left to log in."""
    login_methods.unlink(user, PROVIDER, _l("Your account is not linked to WeChat."))
