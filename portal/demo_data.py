"""What `flask demo-data` puts in front of the demo customer: packing services, parcels on the
way and in stock, an address, a saved declaration, an opening balance and the finance settings
of the recharge pages, so every page has something to show."""

import io
from datetime import timedelta

import qrcode
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Address,
    CouponTemplate,
    DeclarationTemplate,
    MembershipTier,
    PackingService,
    Parcel,
    PaymentSettings,
    RebateRule,
    User,
    utcnow,
)
from portal.services import images, ledger
from portal.services.ledger import Line

PACKING_SERVICES = (
    ("reinforce", "加固包装", "Reinforced packing", 1000),
    ("strip_boxes", "去除鞋盒", "Remove shoe boxes", 0),
    ("bubble_wrap", "气泡膜包裹", "Bubble wrap", 500),
    ("wooden_crate", "打木架", "Wooden crate", 8000),
)

DEMO_PARCELS = (
    # tracking number, courier, contents, category, declared fen, received days ago, weight g
    ("SF1234567890123", "SF", "冬季外套", "general", 45000, None, 1500),
    ("YT7654321098765", "YTO", "手机壳 3 个", "general", 6000, None, None),
    ("JT0001112223334", "JTEXPRESS", "蓝牙耳机", "battery_in_equipment", 19900, None, None),
    ("ZT78123456789012", "ZTO", "运动鞋", "general", 39900, 3, 1200),
    ("JDVA01234567891", "JD", "口红套装", "cosmetic", 25000, 27, 400),
)


def load_packing_services() -> None:
    for sort, (code, name_zh, name_en, price_fen) in enumerate(PACKING_SERVICES):
        if db.session.scalar(select(PackingService).where(PackingService.code == code)) is None:
            db.session.add(
                PackingService(
                    code=code, name_zh=name_zh, name_en=name_en, price_fen=price_fen, sort=sort
                )
            )


def load_customer_things(customer: User) -> None:
    """Parcels, an address and a declaration template, unless the customer already has parcels."""
    if db.session.scalar(select(Parcel.id).where(Parcel.customer_id == customer.id).limit(1)):
        return
    now = utcnow()
    for tracking_no, courier, contents, category, value, days_ago, weight in DEMO_PARCELS:
        received = days_ago is not None
        db.session.add(
            Parcel(
                customer_id=customer.id,
                tracking_no=tracking_no,
                courier=courier,
                contents=contents,
                category=category,
                declared_value_fen=value,
                declared_weight_g=None if received else weight,
                status="received" if received else "expected",
                weight_g=weight if received else None,
                length_cm=35 if received else None,
                width_cm=25 if received else None,
                height_cm=12 if received else None,
                received_at=now - timedelta(days=days_ago) if received else None,
                created_at=now - timedelta(days=(days_ago or 0) + 2),
            )
        )
    db.session.add(
        Address(
            customer_id=customer.id,
            recipient_name="Wang Fang",
            phone="+12025550143",
            country="US",
            region="CA",
            city="San Jose",
            postcode="95112",
            line1="200 E Santa Clara St",
            is_default=True,
        )
    )
    db.session.add(
        DeclarationTemplate(
            customer_id=customer.id,
            name_zh="衣服",
            name_en="Clothes",
            category="general",
            quantity=1,
            unit_value_fen=10000,
        )
    )


DEMO_BANK = {
    "bank_name": "招商银行",
    "bank_branch": "深圳分行营业部",
    "account_name": "深圳集运演示有限公司",
    "account_no": "7559 0000 0000 0001",
}
DEMO_OPENING_BALANCE_FEN = 30_000


def _demo_qr(label: str) -> str:
    """A QR image saying it is a demo (never a real collection code), stored like an upload."""
    image = qrcode.make(f"DEMO ONLY - {label} - not a payment code").get_image()
    out = io.BytesIO()
    image.convert("RGB").save(out, "PNG")
    return images.store_image(out.getvalue(), "qr").image_key


def load_payment_settings() -> None:
    """The bank account and QR images of the recharge pages, unless finance has set them."""
    if db.session.scalar(select(PaymentSettings.id).limit(1)) is not None:
        return
    db.session.add(
        PaymentSettings(
            **DEMO_BANK, wechat_qr_key=_demo_qr("WeChat"), alipay_qr_key=_demo_qr("Alipay")
        )
    )


def load_rebate_rule() -> None:
    """5 % invite rebates for a year after the invitee registers, withdrawn from ¥10."""
    if db.session.scalar(select(RebateRule.id).limit(1)) is not None:
        return
    db.session.add(RebateRule(percent=5, duration_days=365, min_withdraw_fen=1000))


DEMO_COUPONS = (
    dict(
        name_zh="新人券 满50减10",
        name_en="Welcome: ¥10 off ¥50",
        kind="fixed",
        value_fen=1000,
        threshold_fen=5000,
        valid_days=30,
        for_new_customers=True,
    ),
    dict(
        name_zh="运费9折券 最高减30",
        name_en="10% off freight, up to ¥30",
        kind="percent",
        percent=10,
        cap_fen=3000,
        valid_days=30,
        claimable=True,
    ),
    dict(
        name_zh="兑换码 满100减20",
        name_en="Code: ¥20 off ¥100",
        kind="fixed",
        value_fen=2000,
        threshold_fen=10000,
        valid_days=60,
        redeem_code="JIYUN2026",
        total_limit=1000,
    ),
    dict(
        name_zh="会员月券 减5元",
        name_en="Member monthly ¥5 off",
        kind="fixed",
        value_fen=500,
        valid_days=30,
    ),
)


def load_coupons_and_tiers() -> None:
    """Demo coupons (a welcome one, a claimable one, a code) and two membership tiers."""
    if db.session.scalar(select(CouponTemplate.id).limit(1)) is not None:
        return
    templates = [CouponTemplate(**fields) for fields in DEMO_COUPONS]
    db.session.add_all(templates)
    db.session.flush()
    db.session.add_all(
        [
            MembershipTier(
                name_zh="白银会员",
                name_en="Silver",
                price_fen=9900,
                duration_days=90,
                discount_percent=5,
                sort=1,
            ),
            MembershipTier(
                name_zh="黄金会员",
                name_en="Gold",
                price_fen=19900,
                duration_days=365,
                discount_percent=10,
                sort=2,
                coupon_template_id=templates[-1].id,
                monthly_coupons=2,
            ),
        ]
    )


def load_opening_balance(customer: User) -> None:
    """¥300 on the demo customer's balance, so a packed order can be paid at once (posted once)."""
    ledger.post(
        "adjustment",
        [
            Line(ledger.account("platform_adjustments"), -DEMO_OPENING_BALANCE_FEN),
            Line(ledger.customer_balance(customer), DEMO_OPENING_BALANCE_FEN),
        ],
        "demo:opening-balance",
        memo="演示余额",
    )
