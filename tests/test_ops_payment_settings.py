"""Finance's payment settings: the bank account, the WeChat and Alipay QR images (upload,
replace, remove), refused input with nothing stored, two clerks saving at once, the audit."""

import io

import pytest

from portal.extensions import db
from portal.models import User
from portal.services import payment_settings
from portal.services.payment_settings import QrChange
from portal.services.settings_row import SettingsChanged
from tests.conftest import run_together
from tests.finance_helpers import audit_entries, png
from tests.helpers import login, post, soup

BANK = {
    "bank_name": "中国工商银行",
    "bank_branch": "深圳龙华支行",
    "account_name": "深圳集运通物流有限公司",
    "account_no": "6222 0212 3456 7890 123",
}


@pytest.fixture(autouse=True)
def uploads(app, tmp_path):
    folder = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(folder)
    return folder


def files_in(folder) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def settings_now(app):
    with app.app_context():
        found = payment_settings.current()
        if found is not None:
            db.session.expunge(found)
        return found


def revision(client) -> str:
    return soup(client.get("/ops/payment-settings")).find(attrs={"name": "revision"})["value"]


def save(client, fields=None, files=None, rev=None, **kwargs):
    data = {**BANK, **(fields or {}), "revision": rev if rev is not None else revision(client)}
    for name, content in (files or {}).items():
        data[name] = (io.BytesIO(content), f"{name}.png")
    return post(client, "/ops/payment-settings", data, content_type="multipart/form-data", **kwargs)


def test_the_first_save_stores_the_bank_account_and_audits_it(app, finance, clerk):
    page = soup(finance.get("/ops/payment-settings"))
    assert page.find(attrs={"name": "revision"})["value"] == "0"
    assert page.find(attrs={"data-testid": "qr-wechat-none"})
    response = save(finance, {"account_no": " 6222021234567890123 "})
    assert response.status_code == 303
    assert response.headers["Location"] == "/ops/payment-settings"
    settings = settings_now(app)
    assert settings.account_no == "6222 0212 3456 7890 123"
    assert (settings.bank_name, settings.account_name) == (BANK["bank_name"], BANK["account_name"])
    assert (settings.revision, settings.updated_by) == (1, clerk.id)
    (entry,) = audit_entries(app, "payment_settings.edit")
    assert entry.actor_id == clerk.id
    assert entry.after["account_no"] == "6222 0212 3456 7890 123"
    assert revision(finance) == "1"


@pytest.mark.parametrize(
    "account_no",
    [
        "1234567",
        "1" * 31,
        "6222-0212-3456-7890",
        "６２２２０２１２３４５６",
        "622202123456789x",
        "62220212\x003456",
        "6222\t02123456",
        "1" * 10_000,
    ],
)
def test_bad_account_numbers_are_refused_beside_the_field(app, finance, account_no):
    response = save(finance, {"account_no": account_no})
    assert response.status_code == 422
    assert soup(response).find(id="account_no-error").get_text(strip=True)
    assert soup(response).find(id="settings-account_no")["aria-invalid"] == "true"
    assert settings_now(app) is None


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"account_no": ""}, "account_no"),
        ({"bank_name": ""}, "bank_name"),
        ({"bank_name": "工行\x00"}, "bank_name"),
        ({"account_name": "x" * 101}, "account_name"),
        ({"bank_branch": "line\nbreak"}, "bank_branch"),
    ],
)
def test_bad_or_missing_bank_fields_are_refused(app, finance, fields, field):
    response = save(finance, fields)
    assert response.status_code == 422
    assert soup(response).find(id=f"{field}-error").get_text(strip=True)
    assert settings_now(app) is None


def test_qr_images_upload_replace_and_remove(app, finance, uploads):
    assert (
        save(finance, files={"wechat_qr": png("green"), "alipay_qr": png("blue")}).status_code
        == 303
    )
    first = settings_now(app)
    assert first.wechat_qr_key and first.alipay_qr_key
    assert files_in(uploads) == {first.wechat_qr_key, first.alipay_qr_key}
    image = finance.get("/ops/payment-settings/qr/wechat")
    assert (image.status_code, image.mimetype) == (200, "image/jpeg")
    image.close()

    assert save(finance, files={"wechat_qr": png("yellow")}).status_code == 303
    second = settings_now(app)
    assert second.wechat_qr_key not in (None, first.wechat_qr_key)
    assert second.alipay_qr_key == first.alipay_qr_key
    assert files_in(uploads) == {second.wechat_qr_key, first.alipay_qr_key}

    assert save(finance, {"alipay_qr_remove": "y"}).status_code == 303
    third = settings_now(app)
    assert (third.wechat_qr_key, third.alipay_qr_key) == (second.wechat_qr_key, None)
    assert files_in(uploads) == {second.wechat_qr_key}
    assert finance.get("/ops/payment-settings/qr/alipay").status_code == 404
    assert third.revision == 3
    assert len(audit_entries(app, "payment_settings.edit")) == 3


@pytest.mark.parametrize(
    "content",
    [
        b"not an image at all",
        png()[:60],
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"GIF89a" + b"\x00" * 20,
    ],
)
def test_a_bad_image_is_refused_and_leaves_no_file(app, finance, uploads, content):
    save(finance, files={"wechat_qr": png("green")})
    before, kept = files_in(uploads), settings_now(app)
    response = save(
        finance, {"bank_name": "招商银行"}, files={"wechat_qr": png("red"), "alipay_qr": content}
    )
    assert response.status_code == 422
    assert soup(response).find(id="alipay_qr-error").get_text(strip=True)
    assert files_in(uploads) == before
    now = settings_now(app)
    assert (now.bank_name, now.wechat_qr_key, now.revision) == (
        BANK["bank_name"],
        kept.wechat_qr_key,
        kept.revision,
    )


def test_the_second_of_two_clerks_gets_409_and_nothing_is_lost(app, finance, make_staff, uploads):
    save(finance)
    other = app.test_client()
    login(other, make_staff("finance"))
    stale = revision(other)
    assert save(finance, {"bank_branch": "福田支行"}, rev=stale).status_code == 303
    response = save(other, {"bank_branch": "南山支行"}, files={"wechat_qr": png()}, rev=stale)
    assert response.status_code == 409
    assert soup(response).find(attrs={"data-testid": "settings-conflict"}).get_text(strip=True)
    settings = settings_now(app)
    assert (settings.bank_branch, settings.revision, settings.wechat_qr_key) == (
        "福田支行",
        2,
        None,
    )
    assert files_in(uploads) == set()
    assert len(audit_entries(app, "payment_settings.edit")) == 2
    assert save(finance, {"bank_name": "x"}, rev="abc").status_code == 409


@pytest.mark.parametrize("threads", [2, 5])
def test_first_saves_at_once_store_one(app, make_staff, threads, uploads):
    clerks = [make_staff("finance") for _ in range(threads)]

    def first_save(i: int):
        actor = db.session.get(User, clerks[i].id)
        values = {**BANK, "bank_branch": f"支行{i}"}
        saved = payment_settings.save(actor, values, 0, {"wechat": QrChange(png())})
        db.session.commit()
        return saved.settings.bank_branch

    results = run_together(app, threads, first_save)
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1, results
    assert all(isinstance(r, SettingsChanged) for r in results if not isinstance(r, str))
    settings = settings_now(app)
    assert (settings.bank_branch, settings.revision) == (winners[0], 1)
    assert files_in(uploads) == {settings.wechat_qr_key}


def test_only_finance_sees_the_settings(app, client, make_staff):
    login(client, make_staff("service"))
    assert client.get("/ops/payment-settings").status_code == 403
    assert save(client, rev="0").status_code == 403
    assert settings_now(app) is None
