"""Production refuses the login stand-ins as it refuses the payment simulator; they are off there
unless configured."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal import create_app

ROOT = Path(__file__).resolve().parent.parent

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


def test_logins_through_other_systems_are_off_in_production_unless_configured(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WECHAT_", "WULIUTONG_", "PORTAL_ENV", "SECRET_KEY"))
    }
    env.update(
        PORTAL_ENV="production",
        SECRET_KEY=STRONG_KEY,
        DATABASE_URL=f"sqlite:///{tmp_path}/p.sqlite3",
    )
    script = (
        "from portal import create_app; app = create_app(); "
        "print(app.config['WECHAT_LOGIN'], app.config['WULIUTONG_LOGIN'], "
        "any(r.rule.startswith(('/wechat-simulator', '/wuliutong-simulator')) "
        "for r in app.url_map.iter_rules()))"
    )
    started = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["off", "off", "False"]
