"""The customer's recharge pages: bank transfer and QR scan with a receipt (待审核), the list and
one recharge, the receipt and QR images served privately, the ?amount= prefill, the wallet's
links. Refusals leave no row and no file behind; one submit token records one recharge."""

import io
import itertools
import re
import uuid

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from portal.extensions import db
from portal.models import PaymentSettings, Recharge, User
from portal.services import images, recharges
from tests.conftest import run_together
from tests.helpers import BAD_AMOUNTS as GUIDE_AMOUNTS
from tests.helpers import HTMX, csrf_token, field_error, login, post, soup, sql_statements
from tests.test_ops_intake import png, png_claiming, stored_files

BANK = "/recharge/bank"
QR = "/recharge/qr"


@pytest.fixture
def upload_dir(app, tmp_path):
    folder = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(folder)
    return folder


@pytest.fixture
def configure(app, upload_dir):
    """Finance's payment settings: the bank account and the QR codes of the channels given."""

    def make(bank: bool = True, channels: tuple[str, ...] = ("wechat", "alipay")) -> None:
        with app.app_context():
            settings = PaymentSettings(revision=3)
            if bank:
                settings.bank_name = "招商银行"
                settings.bank_branch = "深圳科技园支行"
                settings.account_name = "深圳集运通科技有限公司"
                settings.account_no = "755912345678901"
            for channel in channels:
                stored = images.store_image(png(120, 120, (0, 0, 0)), "qr")
                setattr(settings, f"{channel}_qr_key", stored.image_key)
            db.session.add(settings)
            db.session.commit()

    return make


@pytest.fixture
def customer(app, client, make_customer, configure):
    """A logged-in customer, with bank transfer and both QR channels set up."""
    configure()
    account = make_customer()
    assert login(client, account).status_code == 303
    return account


def send(client, url: str, receipt=None, htmx: bool = False, token: str | None = None, **fields):
    """POST a recharge form: a valid one unless fields or the receipt say otherwise.

    The body is encoded in memory (the test client's own encoder leaves a temporary file open
    for big uploads)."""
    values = {"amount": "123.45", "submit_token": uuid.uuid4().hex, "note": "", **fields}
    if url == BANK:
        values.setdefault("payer_name", "张三")
    else:
        values.setdefault("channel", "wechat")
    data = {"csrf_token": token or csrf_token(client), **values}
    if receipt is not False:
        photo = png() if receipt is None else receipt
        data["receipt"] = FileStorage(io.BytesIO(photo), "receipt.png", content_type="image/png")
    boundary, body = encode_multipart(data)
    return client.post(
        url,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=HTMX if htmx else {},
    )


def recharge_rows(app) -> list[Recharge]:
    with app.app_context():
        rows = list(db.session.scalars(select(Recharge).order_by(Recharge.id)))
        db.session.expunge_all()
        return rows


def footprint(app, folder) -> tuple[int, list]:
    """What a submission may write: recharges and stored files."""
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Recharge))
    return count, stored_files(folder)


def recharge_id_of(response) -> int:
    location = response.headers.get("Location") or response.headers["HX-Redirect"]
    return int(re.fullmatch(r"/recharge/(\d+)", location).group(1))


# ---------------------------------------------------------------------------------------------
# The recharge page and the happy paths
# ---------------------------------------------------------------------------------------------


def test_the_recharge_page_offers_three_ways_the_balance_and_recent_recharges(
    app, client, customer
):
    page = client.get("/recharge/")
    assert page.status_code == 200
    html = soup(page)
    assert [s["data-method"] for s in html.select("[data-testid=method]")] == [
        "bank_transfer",
        "qr",
        "online",
    ]
    assert html.select_one("[data-testid=balance]")["data-fen"] == "0"
    assert html.select_one("[data-testid=no-recharges]") is not None
    assert html.select_one("[data-testid=all-recharges]")["href"] == "/recharge/list"
    hrefs = {a["href"] for a in html.select("[data-testid=method] a.btn")}
    assert {BANK, QR} <= hrefs

    send(client, BANK)
    html = soup(client.get("/recharge/"))
    assert [li["data-status"] for li in html.select("[data-testid=recharge]")] == ["submitted"]


def test_a_bank_transfer_is_recorded_for_review_with_its_receipt(app, client, customer, upload_dir):
    page = soup(client.get(BANK))
    assert page.select_one("[data-testid=account-no]").get_text() == "755912345678901"
    assert page.select_one("[data-testid=account-name]").get_text() == "深圳集运通科技有限公司"
    assert page.select_one("[data-testid=bank-branch]").get_text() == "深圳科技园支行"
    assert page.select_one("[data-testid=remark]").get_text() == customer.customer_code
    assert "755912345678901" in page.select_one("[data-testid=copy-account]")["data-copy-text"]
    token = page.find("input", attrs={"name": "submit_token"})["value"]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    files_before = len(stored_files(upload_dir))

    response = send(
        client, BANK, amount="123.45", payer_name=" 张  三 ", note="工资卡", submit_token=token
    )
    assert response.status_code == 303
    (row,) = recharge_rows(app)
    assert response.headers["Location"] == f"/recharge/{row.id}"
    assert (row.customer_id, row.method, row.status) == (customer.id, "bank_transfer", "submitted")
    assert (row.amount_fen, row.payer_name, row.note, row.submit_token) == (
        12_345,
        "张 三",
        "工资卡",
        token,
    )
    assert row.transaction_id is None and row.qr_channel == ""
    files = {f.name for f in stored_files(upload_dir)}
    assert len(files) == files_before + 2
    assert {row.receipt_key, row.receipt_thumb_key} <= files

    detail = soup(client.get(response.headers["Location"]))
    assert detail.select_one("[data-testid=recharge-no]").get_text() == row.recharge_no
    assert detail.select_one("[data-testid=status]")["data-status"] == "submitted"
    assert detail.select_one("[data-testid=amount]")["data-fen"] == "12345"
    assert detail.select_one("[data-testid=method]")["data-method"] == "bank_transfer"
    assert detail.select_one("[data-testid=payer-name]").get_text() == "张 三"
    assert detail.select_one("[data-testid=receipt-thumb]")["src"] == (
        f"/recharge/{row.id}/receipt?size=thumb"
    )
    assert detail.select_one(".flash-success") is not None

    listed = soup(client.get("/recharge/list")).select("[data-testid=recharge]")
    assert [(li["data-recharge-no"], li["data-status"]) for li in listed] == [
        (row.recharge_no, "submitted")
    ]


def test_a_qr_payment_is_recorded_for_review_with_its_screenshot(app, client, customer, upload_dir):
    page = soup(client.get(QR))
    assert [li["data-channel"] for li in page.select("[data-testid=qr]")] == ["wechat", "alipay"]
    assert page.select_one("[data-testid=qr] img")["src"] == "/recharge/qr/wechat.jpg?v=3"
    assert {i["value"] for i in page.select("input[name=channel]")} == {"wechat", "alipay"}
    files_before = len(stored_files(upload_dir))

    response = send(client, QR, amount="50", channel="alipay")
    assert response.status_code == 303
    (row,) = recharge_rows(app)
    assert (row.method, row.qr_channel, row.amount_fen, row.status) == (
        "qr",
        "alipay",
        5000,
        "submitted",
    )
    assert row.payer_name == ""
    assert len(stored_files(upload_dir)) == files_before + 2
    detail = soup(client.get(f"/recharge/{row.id}"))
    assert detail.select_one("[data-testid=channel]")["data-channel"] == "alipay"


def test_htmx_posts_redirect_or_answer_the_form_fragment(app, client, customer):
    done = send(client, BANK, htmx=True)
    assert done.status_code == 204
    assert done.headers["HX-Redirect"] == f"/recharge/{recharge_rows(app)[0].id}"
    for url, root in ((BANK, "bank-form"), (QR, "qr-form")):
        refused = send(client, url, htmx=True, amount="abc")
        assert refused.status_code == 422
        assert "<html" not in refused.get_data(as_text=True)
        assert soup(refused).find(id=root) is not None
        assert "HX-Request" in refused.headers["Vary"]
        assert field_error(refused, "amount")


# ---------------------------------------------------------------------------------------------
# Bad input: a message beside the field, no row, no file
# ---------------------------------------------------------------------------------------------

BAD_AMOUNTS = [
    *GUIDE_AMOUNTS,
    "9" * 10_000,
    "10\x00",
    "50000.01",
]


@pytest.mark.parametrize("url", [BANK, QR])
@pytest.mark.parametrize("amount", BAD_AMOUNTS, ids=[repr(a[:12]) for a in BAD_AMOUNTS])
def test_bad_amounts_are_refused_beside_the_field_and_store_nothing(
    app, client, customer, upload_dir, url, amount
):
    before = footprint(app, upload_dir)
    response = send(client, url, amount=amount)
    assert response.status_code == 422
    assert field_error(response, "amount")
    assert soup(response).find(id="amount")["aria-invalid"] == "true"
    assert len(soup(response).find(id="amount")["value"]) <= 30
    assert footprint(app, upload_dir) == before


def test_spaces_around_an_amount_are_trimmed(app, client, customer):
    assert send(client, BANK, amount=" 10 ").status_code == 303
    assert [r.amount_fen for r in recharge_rows(app)] == [1000]


def test_a_refusal_is_shown_in_english_too(app, client, customer):
    post(client, "/language", {"lang": "en", "next": "/"})
    response = send(client, BANK, amount="1e20")
    assert "two decimals" in field_error(response, "amount")


BAD_RECEIPTS = [
    ("text", b"hello, I am not a photo"),
    ("html", b"<html><script>alert(1)</script></html>"),
    ("truncated", png()[:200]),
    ("huge pixels", png_claiming(20000, 20000)),
    ("empty", b""),
    ("over 10 MB", b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024)),
    ("missing", False),
]


@pytest.mark.parametrize("url", [BANK, QR])
@pytest.mark.parametrize(("name", "receipt"), BAD_RECEIPTS, ids=[n for n, _r in BAD_RECEIPTS])
def test_bad_receipts_are_refused_beside_the_field_and_store_nothing(
    app, client, customer, upload_dir, url, name, receipt
):
    before = footprint(app, upload_dir)
    response = send(client, url, receipt=receipt)
    assert response.status_code == 422, name
    assert field_error(response, "receipt"), name
    assert footprint(app, upload_dir) == before


BAD_FIELDS = [
    ({"payer_name": ""}, "payer_name"),
    ({"payer_name": "   "}, "payer_name"),
    ({"payer_name": "张" * 61}, "payer_name"),
    ({"payer_name": "张三\x00"}, "payer_name"),
    ({"payer_name": "张三\n李四"}, "payer_name"),
    ({"payer_name": "x" * 10_000}, "payer_name"),
    ({"note": "n" * 201}, "note"),
    ({"note": "bad\x07bell"}, "note"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_FIELDS)
def test_bad_payer_names_and_notes_are_refused_beside_the_field(
    app, client, customer, upload_dir, fields, field
):
    before = footprint(app, upload_dir)
    response = send(client, BANK, **fields)
    assert response.status_code == 422
    assert field_error(response, field)
    assert footprint(app, upload_dir) == before


@pytest.mark.parametrize("channel", ["", "paypal", "wechat\x00", "x" * 10_000])
def test_a_qr_payment_needs_a_configured_channel(app, client, customer, upload_dir, channel):
    before = footprint(app, upload_dir)
    response = send(client, QR, channel=channel)
    assert response.status_code == 422
    assert field_error(response, "channel")
    assert footprint(app, upload_dir) == before


def test_a_channel_without_a_qr_code_is_not_offered(app, client, make_customer, configure):
    configure(channels=("wechat",))
    login(client, make_customer())
    page = soup(client.get(QR))
    assert [i["value"] for i in page.select("input[name=channel]")] == ["wechat"]
    assert page.select_one("input[name=channel]").has_attr("checked")
    assert send(client, QR, channel="alipay").status_code == 422
    assert client.get("/recharge/qr/alipay.jpg").status_code == 404


@pytest.mark.parametrize("token", ["", "not-a-token", "A" * 32, "0" * 64])
def test_a_missing_or_forged_submit_token_is_refused(app, client, customer, upload_dir, token):
    before = footprint(app, upload_dir)
    response = send(client, BANK, submit_token=token)
    assert response.status_code == 422
    assert soup(response).select_one("[data-testid=token-error]") is not None
    fresh = soup(response).find("input", attrs={"name": "submit_token"})["value"]
    assert re.fullmatch(r"[0-9a-f]{32}", fresh)
    assert footprint(app, upload_dir) == before


def test_extra_fields_are_ignored(app, client, customer, make_customer):
    other = make_customer()
    response = send(
        client,
        BANK,
        status="approved",
        customer_id=str(other.id),
        amount_fen="99999999",
        method="online",
        transaction_id="1",
    )
    assert response.status_code == 303
    (row,) = recharge_rows(app)
    assert (row.customer_id, row.status, row.method, row.amount_fen) == (
        customer.id,
        "submitted",
        "bank_transfer",
        12_345,
    )
    assert row.transaction_id is None


def test_text_is_escaped_on_the_pages(app, client, customer):
    script = "<script>alert(1)</script>"
    assert send(client, BANK, payer_name=script, note=script).status_code == 303
    (row,) = recharge_rows(app)
    page = client.get(f"/recharge/{row.id}")
    assert soup(page).find("script", string="alert(1)") is None
    assert soup(page).select_one("[data-testid=payer-name]").get_text() == script


def test_a_failure_after_the_receipt_is_stored_leaves_no_file(
    app, client, customer, upload_dir, monkeypatch
):
    def fail(*args, **kwargs):
        recharges_submit(*args, **kwargs)
        raise RuntimeError("database went away")

    recharges_submit = recharges.submit_for_review
    monkeypatch.setattr(recharges, "submit_for_review", fail)
    before = footprint(app, upload_dir)
    assert send(client, BANK).status_code == 500
    assert footprint(app, upload_dir) == before


# ---------------------------------------------------------------------------------------------
# One submit token, one recharge
# ---------------------------------------------------------------------------------------------


def test_the_same_form_sent_twice_records_one_recharge(app, client, customer, upload_dir):
    token = uuid.uuid4().hex
    files_before = len(stored_files(upload_dir))
    first = send(client, BANK, submit_token=token, receipt=png(color=(1, 2, 3)))
    second = send(client, BANK, submit_token=token, receipt=png(color=(4, 5, 6)))
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    (row,) = recharge_rows(app)
    assert {f.name for f in stored_files(upload_dir)} >= {row.receipt_key, row.receipt_thumb_key}
    assert len(stored_files(upload_dir)) == files_before + 2
    assert soup(client.get(second.headers["Location"])).select_one(".flash-info") is not None


def test_the_same_form_sent_five_times_at_once_records_one_recharge(app, customer, upload_dir):
    token = uuid.uuid4().hex
    senders = []
    for _ in range(5):
        sender = app.test_client()
        assert login(sender, customer).status_code == 303
        senders.append((sender, csrf_token(sender)))
    files_before = len(stored_files(upload_dir))

    def submit(i: int):
        sender, csrf = senders[i]
        return send(sender, BANK, token=csrf, submit_token=token)

    answers = run_together(app, 5, submit)
    assert [a.status_code for a in answers] == [303] * 5
    assert len({a.headers["Location"] for a in answers}) == 1
    (row,) = recharge_rows(app)
    assert {f.name for f in stored_files(upload_dir)} >= {row.receipt_key, row.receipt_thumb_key}
    assert len(stored_files(upload_dir)) == files_before + 2


def test_two_forms_make_two_recharges(app, client, customer):
    send(client, BANK)
    send(client, QR)
    assert [r.method for r in recharge_rows(app)] == ["bank_transfer", "qr"]


# ---------------------------------------------------------------------------------------------
# Not configured yet
# ---------------------------------------------------------------------------------------------


def test_without_payment_settings_no_form_is_offered_and_posts_are_refused(
    app, client, make_customer, upload_dir
):
    login(client, make_customer())
    for url, root in ((BANK, "bank-form"), (QR, "qr-form")):
        page = soup(client.get(url))
        assert page.select_one("[data-testid=not-configured]")["id"] == root
        assert page.find("input", attrs={"name": "amount"}) is None
        before = footprint(app, upload_dir)
        response = send(client, url)
        assert response.status_code == 409
        assert footprint(app, upload_dir) == before
    assert client.get("/recharge/qr/wechat.jpg").status_code == 404


def test_qr_codes_without_a_bank_account_leave_only_bank_transfer_closed(
    app, client, make_customer, configure
):
    configure(bank=False)
    login(client, make_customer())
    assert soup(client.get(BANK)).select_one("[data-testid=not-configured]") is not None
    assert send(client, BANK).status_code == 409
    assert send(client, QR).status_code == 303


# ---------------------------------------------------------------------------------------------
# The ?amount= prefill
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [BANK, QR])
def test_a_valid_amount_in_the_address_is_prefilled(client, customer, url):
    assert soup(client.get(f"{url}?amount=12.50")).find(id="amount")["value"] == "12.50"
    assert soup(client.get(f"{url}?amount=%2012.5%20")).find(id="amount")["value"] == "12.50"


@pytest.mark.parametrize("raw", ["abc", "-1", "0", "1e20", "１０", "12.505", "9" * 300, "1\x00"])
@pytest.mark.parametrize("url", [BANK, QR, "/recharge/"])
def test_a_bad_amount_in_the_address_is_ignored(client, customer, url, raw):
    response = client.get(url, query_string={"amount": raw})
    assert response.status_code == 200
    html = soup(response)
    field = html.find(id="amount")
    assert field is None or field["value"] == ""
    assert html.select_one("[data-testid=amount-needed]") is None


def test_the_recharge_page_carries_the_amount_to_each_way(client, customer):
    html = soup(client.get("/recharge/?amount=12.50"))
    assert html.select_one("[data-testid=amount-needed]")["data-amount"] == "12.50"
    hrefs = {a["href"] for a in html.select("[data-testid=method] a.btn")}
    assert {f"{BANK}?amount=12.50", f"{QR}?amount=12.50", "/recharge/online?amount=12.50"} <= hrefs
    tabs = soup(client.get(f"{QR}?amount=12.50")).select("[data-testid=method-tab]")
    assert f"{BANK}?amount=12.50" in {a["href"] for a in tabs}


# ---------------------------------------------------------------------------------------------
# Receipts and QR images, served privately
# ---------------------------------------------------------------------------------------------


def test_the_receipt_is_served_to_its_owner_only_as_a_download(
    app, client, customer, make_customer
):
    send(client, BANK)
    (row,) = recharge_rows(app)
    for url in (f"/recharge/{row.id}/receipt", f"/recharge/{row.id}/receipt?size=thumb"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert "private" in response.headers["Cache-Control"]
        response.close()

    stranger = app.test_client()
    login(stranger, make_customer())
    for url in (f"/recharge/{row.id}", f"/recharge/{row.id}/receipt"):
        assert stranger.get(url).status_code == 404
    visitor = app.test_client()
    answer = visitor.get(f"/recharge/{row.id}/receipt")
    assert answer.status_code == 302 and "/auth/login" in answer.headers["Location"]


@pytest.mark.parametrize("recharge_id", [999_999, 2**31, 2**63, 10**30])
def test_unknown_recharges_are_404(client, customer, recharge_id):
    assert client.get(f"/recharge/{recharge_id}").status_code == 404
    assert client.get(f"/recharge/{recharge_id}/receipt").status_code == 404


def test_qr_images_are_served_to_logged_in_users_only(app, client, customer):
    response = client.get("/recharge/qr/wechat.jpg?v=3")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["Content-Disposition"].startswith("attachment")
    response.close()
    assert client.get("/recharge/qr/paypal.jpg").status_code == 404
    visitor = app.test_client()
    answer = visitor.get("/recharge/qr/wechat.jpg")
    assert answer.status_code == 302 and "/auth/login" in answer.headers["Location"]


@pytest.mark.parametrize("url", ["/recharge/", BANK, QR, "/recharge/list"])
def test_the_pages_need_a_login(client, url):
    answer = client.get(url)
    assert answer.status_code == 302 and "/auth/login" in answer.headers["Location"]


# ---------------------------------------------------------------------------------------------
# The list and one recharge
# ---------------------------------------------------------------------------------------------


SERIAL = itertools.count(1)


def insert_recharges(app, customer_id: int, statuses: list[str]) -> list[int]:
    with app.app_context():
        rows = [
            Recharge(
                recharge_no=f"CZT{next(SERIAL):08d}",
                customer_id=customer_id,
                method="online" if status in ("created", "paid") else "bank_transfer",
                status=status,
                amount_fen=100 + i,
                reject_reason="看不清回单" if status == "rejected" else "",
            )
            for i, status in enumerate(statuses)
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [r.id for r in rows]


def test_the_list_shows_every_status_newest_first_20_a_page(app, client, customer, make_customer):
    insert_recharges(
        app, customer.id, ["submitted"] * 21 + ["approved", "rejected", "created", "paid"]
    )
    insert_recharges(app, make_customer().id, ["submitted"])
    first = client.get("/recharge/list")
    cards = soup(first).select("[data-testid=recharge]")
    assert len(cards) == 20
    assert [c["data-status"] for c in cards[:4]] == ["paid", "created", "rejected", "approved"]
    assert cards[2].select_one("[data-testid=reject-reason]").get_text() == "看不清回单"
    assert [c.select_one("[data-testid=status]")["class"][1] for c in cards[:4]] == [
        "status-paid",
        "status-awaiting_payment",
        "status-cancelled",
        "status-paid",
    ]
    href = soup(first).select_one("[data-testid=next]")["href"]
    second = client.get(href, headers=HTMX)
    assert "<html" not in second.get_data(as_text=True)
    assert soup(second).find(id="recharge-list") is not None
    assert [
        int(c.select_one("[data-testid=amount]")["data-fen"])
        for c in soup(second).select("[data-testid=recharge]")
    ] == [104, 103, 102, 101, 100]
    assert client.get("/recharge/list?page=3").status_code == 404
    assert client.get("/recharge/list?page=abc").status_code == 404


def test_an_online_recharge_waiting_for_payment_links_to_its_payment(app, client, customer):
    (recharge_id,) = insert_recharges(app, customer.id, ["created"])
    page = soup(client.get(f"/recharge/{recharge_id}"))
    assert page.select_one("[data-testid=status]")["data-status"] == "created"
    assert page.select_one("[data-testid=next-step]")["href"].startswith("/recharge/online/CZT")
    assert page.select_one("#receipt") is None


def test_a_rejected_recharge_shows_its_reason(app, client, customer, make_staff):
    send(client, BANK)
    (row,) = recharge_rows(app)
    staff = make_staff("finance")
    with app.app_context():
        recharges.reject(db.session.get(User, staff.id), row.id, "金额与回单不符")
        db.session.commit()
    page = soup(client.get(f"/recharge/{row.id}"))
    assert page.select_one("[data-testid=status]")["data-status"] == "rejected"
    assert page.select_one("[data-testid=reject-reason]").get_text() == "金额与回单不符"


# ---------------------------------------------------------------------------------------------
# The wallet's links
# ---------------------------------------------------------------------------------------------


def test_the_wallet_links_a_credited_recharge_to_its_page(app, client, customer, make_staff):
    send(client, BANK, amount="88")
    (row,) = recharge_rows(app)
    staff = make_staff("finance")
    with app.app_context():
        recharges.approve(db.session.get(User, staff.id), row.id)
        db.session.commit()
    wallet = soup(client.get("/wallet/"))
    assert wallet.select_one("[data-testid=balance]")["data-fen"] == "8800"
    assert wallet.select_one("[data-testid=recharge-button]")["href"] == "/recharge/"
    assert wallet.select_one("[data-testid=recharges-link]")["href"] == "/recharge/list"
    link = wallet.select_one("[data-testid=entry-recharge]")
    assert link["href"] == f"/recharge/{row.id}" and link.get_text() == row.recharge_no
    detail = soup(client.get(link["href"]))
    assert detail.select_one("[data-testid=status]")["data-status"] == "approved"
    assert soup(client.get("/recharge/")).select_one("[data-testid=balance]")["data-fen"] == "8800"


def test_the_wallet_history_query_count_does_not_grow_with_recharges(
    app, client, customer, make_staff
):
    staff = make_staff("finance")

    def credit(count: int) -> None:
        ids = insert_recharges(app, customer.id, ["submitted"] * count)
        with app.app_context():
            for recharge_id in ids:
                recharges.approve(db.session.get(User, staff.id), recharge_id)
            db.session.commit()

    credit(1)
    with sql_statements(app) as few:
        client.get("/wallet/")
    credit(19)
    with sql_statements(app) as many:
        page = client.get("/wallet/")
    assert len(soup(page).select("[data-testid=entry-recharge]")) == 20
    assert len(many) == len(few)
