"""Production refuses the login stand-ins as it refuses the payment simulator; they are off there
unless configured."""

import pytest

from portal import create_app
from portal.config import ProductionConfig

STRONG_KEY = "k3y-" + "0123456789abcdef" * 3


@pytest.mark.parametrize(
    ("setting", "value"),
    [("WECHAT_LOGIN", "simulator"), ("WULIUTONG_LOGIN", "simulator"), ("WECHAT_LOGIN", "typo")],
)
def test_production_refuses_a_login_simulator(monkeypatch, setting, value):
    monkeypatch.setenv("PORTAL_ENV", "production")
    with pytest.raises(RuntimeError, match=setting):
        create_app(
            {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": STRONG_KEY, setting: value}
        )


def test_logins_through_other_systems_are_off_in_production_unless_configured():
    assert (ProductionConfig.WECHAT_LOGIN, ProductionConfig.WULIUTONG_LOGIN) == ("off", "off")
