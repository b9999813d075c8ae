"""Password hashing and policy (reliability guide, authentication table)."""

import time

import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type

from portal import create_app
from portal.config import Config
from portal.extensions import db
from portal.models import User
from portal.services import passwords
from portal.services.errors import ValidationFailed
from tests.helpers import field_error, login, post


def test_production_hash_is_argon2id_and_well_under_a_second():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        assert app.config["ARGON2_MEMORY_COST_KIB"] == Config.ARGON2_MEMORY_COST_KIB
        started = time.perf_counter()
        hashed = passwords.hash_password("a reasonably long passphrase")
        elapsed = time.perf_counter() - started
        assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert passwords.hasher().type is Type.ID
        assert passwords.verify_password(hashed, "a reasonably long passphrase")
        assert not passwords.verify_password(hashed, "a reasonably long passphrasE")
    assert elapsed < 0.5, f"one hash took {elapsed:.3f}s"


def test_unknown_account_costs_a_real_hash_verification(app):
    with app.app_context():
        assert passwords.verify_password(None, "anything at all") is False
        assert passwords.verify_password("not a hash", "anything at all") is False


@pytest.mark.parametrize("length", [8, 64, 128])
def test_passwords_of_8_64_128_characters_are_accepted_verbatim(app, client, length):
    password = ("Zq 密码 ✓ " * 40)[:length]
    assert len(password) == length
    identifier = f"1390000{length:04d}"
    response = post(
        client,
        "/auth/register",
        {"identifier": identifier, "password": password, "confirm": password},
    )
    assert response.status_code == 303
    post(client, "/auth/logout")
    account = type("A", (), {"identifier": identifier, "password": password})
    assert login(client, account).status_code == 303
    stripped = type("A", (), {"identifier": identifier, "password": password.strip() + "x"})
    post(client, "/auth/logout")
    assert login(app.test_client(), stripped).status_code == 422


def test_129_characters_and_common_passwords_are_refused(client):
    for password, message in [
        ("x" * 129, "最多 128"),
        ("iloveyou", "太常见"),
        ("Password1", "太常见"),
        ("qwerty123", "太常见"),
    ]:
        response = post(
            client,
            "/auth/register",
            {"identifier": "13900001111", "password": password, "confirm": password},
        )
        assert response.status_code == 422
        assert message in field_error(response, "password")


def test_no_composition_rules(app):
    with app.app_context():
        for fine in ["alllowercaseletters", "12345678901234567890x", "短短的中文密码也可以吧"]:
            passwords.check_password_policy(fine)
        with pytest.raises(ValidationFailed):
            passwords.check_password_policy("1234567")


def test_common_list_holds_the_classics():
    common = passwords.common_passwords()
    assert len(common) > 3000
    assert {"123456", "password", "qwerty", "111111"} <= common


def test_old_hash_parameters_are_upgraded_on_login(app, client, make_customer):
    account = make_customer()
    weak = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(account.password)
    with app.app_context():
        db.session.get(User, account.id).password_hash = weak
        db.session.commit()
    assert login(client, account).status_code == 303
    with app.app_context():
        assert db.session.get(User, account.id).password_hash != weak
