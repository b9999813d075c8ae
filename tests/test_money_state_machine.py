"""A Hypothesis state machine over the money acts (reliability guide): recharge, approve, reject,
online credit (with a replay), pay (with or without a coupon), cancel, refund, cancel with a
refund, manual adjustments, buying a membership (with a replay), and the inviter's rebates and
their withdrawal, in any order.

After every step the customer's and their inviter's balances are what a plain model of the rules
says, no order has more refunded than paid, and a coupon paid with comes back when staff cancel
its order; after every example the whole ledger's invariants hold. Each example is a new
customer invited by a new inviter, under a 5 % rebate rule.
"""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import (
    Coupon,
    CouponTemplate,
    MembershipTier,
    Order,
    OrderChargeLine,
    Recharge,
    User,
)
from portal.services import (
    adjustments,
    coupons,
    ledger,
    memberships,
    orders,
    payments,
    rebates,
    recharges,
    refunds,
)
from portal.services.errors import DomainError, ValidationFailed
from portal.services.images import StoredImage
from portal.services.rebate_rules import RuleInput, save_rule

AMOUNTS = st.integers(min_value=1, max_value=200_000)
RECEIPT = StoredImage("receipt", "receipt-thumb")
PERCENT = 5
MIN_WITHDRAW = 100
TIER_PRICE = 5_000
TIER_PERCENT = 10
COUPON_FEN = 1_000


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, in integers (the model's own arithmetic)."""
    return (2 * numerator + denominator) // (2 * denominator)


def run_machine(app, make_customer, make_staff, insert_orders) -> None:
    clerk_id = make_staff("finance", "service").id
    counter = iter(range(1, 1_000_000))
    with app.app_context():
        save_rule(db.session.get(User, clerk_id), RuleInput(str(PERCENT), "", "1"))
        tier = MembershipTier(
            name_zh="会员",
            name_en="Member",
            price_fen=TIER_PRICE,
            duration_days=365,
            discount_percent=TIER_PERCENT,
        )
        offer = CouponTemplate(
            name_zh="减10元",
            name_en="¥10 off",
            kind="fixed",
            value_fen=COUPON_FEN,
            valid_days=30,
            per_customer_limit=1000,
        )
        db.session.add_all([tier, offer])
        db.session.commit()
        tier_id, offer_id = tier.id, offer.id

    class Money(RuleBasedStateMachine):
        recharges_made = Bundle("recharges")
        orders_made = Bundle("orders")

        def __init__(self):
            super().__init__()
            inviter = make_customer()
            self.inviter_id = inviter.id
            self.customer_id = make_customer(invite_code=inviter.invite_code).id
            self.balance = 0
            self.inviter_rebate = 0
            self.inviter_balance = 0
            self.recharge_status: dict[int, tuple[str, int]] = {}
            self.orders: dict[int, dict] = {}
            self.member = False
            self.free_coupons: list[int] = []
            self.context = app.app_context()
            self.context.push()

        def teardown(self):
            # The whole ledger is sound after every example (a scan of every entry: once per
            # example, not per step, where it took half the test's time).
            try:
                assert ledger.invariant_problems() == []
            finally:
                db.session.remove()
                self.context.pop()

        def customer(self) -> User:
            return db.session.get(User, self.customer_id)

        def clerk(self) -> User:
            return db.session.get(User, clerk_id)

        def inviter(self) -> User:
            return db.session.get(User, self.inviter_id)

        def take_back(self, model: dict) -> None:
            """The inviter's share of the refunds, from the rebate balance, then the balance."""
            if not model["paid"]:  # discounts covered the whole bill: nothing paid, no rebate
                return
            target = half_up(model["rebate"] * model["refunded"], model["paid"])
            wanted = target - model["reversed"]
            from_rebate = min(wanted, self.inviter_rebate)
            from_balance = min(wanted - from_rebate, self.inviter_balance)
            self.inviter_rebate -= from_rebate
            self.inviter_balance -= from_balance
            model["reversed"] += from_rebate + from_balance

        @rule(
            target=recharges_made, amount=AMOUNTS, method=st.sampled_from(["bank_transfer", "qr"])
        )
        def recharge(self, amount, method):
            recharge, new = recharges.submit_for_review(
                self.customer(), method, amount, RECEIPT, f"s{next(counter)}"
            )
            db.session.commit()
            assert new
            self.recharge_status[recharge.id] = ("submitted", amount)
            return recharge.id

        @rule(recharge_id=recharges_made)
        def approve(self, recharge_id):
            status, amount = self.recharge_status[recharge_id]
            try:
                recharges.approve(self.clerk(), recharge_id)
                db.session.commit()
            except recharges.AlreadyReviewed:
                db.session.rollback()
                assert status != "submitted"
                return
            assert status == "submitted"
            self.recharge_status[recharge_id] = ("approved", amount)
            self.balance += amount

        @rule(recharge_id=recharges_made)
        def reject(self, recharge_id):
            status, amount = self.recharge_status[recharge_id]
            try:
                recharges.reject(self.clerk(), recharge_id, "金额不符")
                db.session.commit()
            except recharges.AlreadyReviewed:
                db.session.rollback()
                assert status != "submitted"
                return
            assert status == "submitted"
            self.recharge_status[recharge_id] = ("rejected", amount)

        @rule(amount=AMOUNTS, replays=st.integers(min_value=1, max_value=3))
        def online_recharge(self, amount, replays):
            recharge = recharges.start_online(self.customer(), amount)
            db.session.commit()
            trade = f"T{next(counter)}"
            answers = []
            for _ in range(replays):
                answers.append(recharges.credit_online(recharge.recharge_no, trade, amount)[1])
                db.session.commit()
            assert answers == [True] + [False] * (replays - 1)
            self.balance += amount

        @rule(target=orders_made, bill=AMOUNTS)
        def packed_order(self, bill):
            (order_no,) = insert_orders(self.customer_id, 1, "awaiting_payment")
            db.session.execute(
                update(Order).where(Order.order_no == order_no).values(bill_fen=bill)
            )
            db.session.commit()
            order_id = db.session.scalar(select(Order.id).where(Order.order_no == order_no))
            db.session.add(
                OrderChargeLine(
                    order_id=order_id, stage="bill", seq=1, code="BASE", amount_fen=bill
                )
            )
            db.session.commit()
            self.orders[order_id] = {"status": "awaiting_payment", "bill": bill, "paid": 0}
            return order_id

        @rule(order_id=orders_made, with_coupon=st.booleans())
        def pay(self, order_id, with_coupon):
            model = self.orders[order_id]
            order = db.session.get(Order, order_id)
            coupon_id = self.free_coupons[0] if with_coupon and self.free_coupons else 0
            member = half_up(model["bill"] * TIER_PERCENT, 100) if self.member else 0
            off = min(COUPON_FEN, model["bill"] - member) if coupon_id else 0
            due = model["bill"] - member - off
            try:
                payments.pay_order(self.customer(), order, f"p{next(counter)}", coupon_id)
                db.session.commit()
            except payments.ShortOfMoney as short:
                db.session.rollback()
                assert model["status"] == "awaiting_payment"
                assert short.shortfall_fen == due - self.balance > 0
                return
            except DomainError:
                db.session.rollback()
                assert model["status"] != "awaiting_payment"
                return
            assert model["status"] == "awaiting_payment" and self.balance >= due
            self.balance -= due
            if coupon_id:
                self.free_coupons.remove(coupon_id)
                assert db.session.get(Coupon, coupon_id).used_order_id == order_id
            rebate = half_up(due * PERCENT, 100)
            model.update(
                status="paid", paid=due, refunded=0, rebate=rebate, reversed=0, coupon=coupon_id
            )
            self.inviter_rebate += rebate

        @rule()
        def get_coupon(self):
            offer = db.session.get(CouponTemplate, offer_id)
            self.free_coupons.append(coupons.issue(offer, self.customer(), "staff").id)
            db.session.commit()

        @rule(replays=st.integers(min_value=1, max_value=2))
        def buy_membership(self, replays):
            key = f"m{next(counter)}"
            try:
                for _ in range(replays):
                    memberships.buy(self.customer(), tier_id, key)
                    db.session.commit()
            except payments.ShortOfMoney:
                db.session.rollback()
                assert self.balance < TIER_PRICE
                return
            assert self.balance >= TIER_PRICE
            self.balance -= TIER_PRICE
            self.member = True

        @rule(order_id=orders_made)
        def customer_cancels(self, order_id):
            model = self.orders[order_id]
            try:
                orders.cancel_order(self.customer(), db.session.get(Order, order_id))
                db.session.commit()
            except DomainError:
                db.session.rollback()
                assert model["status"] != "awaiting_payment"
                return
            assert model["status"] == "awaiting_payment"
            model["status"] = "cancelled"

        @rule(order_id=orders_made, amount=AMOUNTS)
        def refund(self, order_id, amount):
            model = self.orders[order_id]
            order = db.session.get(Order, order_id)
            try:
                refunds.refund(self.clerk(), order, amount, "称重更正", f"r{next(counter)}")
                db.session.commit()
            except DomainError:
                db.session.rollback()
                assert not model["paid"] or model["refunded"] + amount > model["paid"]
                return
            assert model["paid"] and model["refunded"] + amount <= model["paid"]
            model["refunded"] += amount
            self.balance += amount
            self.take_back(model)

        @rule(order_id=orders_made)
        def cancel_with_refund(self, order_id):
            model = self.orders[order_id]
            order = db.session.get(Order, order_id)
            try:
                refunds.cancel_paid_order(self.clerk(), order, "客户取消", f"c{next(counter)}")
                db.session.commit()
            except DomainError:
                db.session.rollback()
                assert model["status"] != "paid"
                return
            if model["status"] == "cancelled":
                # Cancelled and refunded in full before: a second press changes nothing.
                assert "refunded" in model and model["refunded"] == model["paid"]
                return
            assert model["status"] == "paid"
            self.balance += model["paid"] - model["refunded"]
            model.update(status="cancelled", refunded=model["paid"])
            self.take_back(model)
            if model["coupon"]:
                assert db.session.get(Coupon, model["coupon"]).used_order_id is None
                self.free_coupons.append(model["coupon"])

        @rule(amount=st.integers(min_value=1, max_value=20_000), replays=st.integers(1, 2))
        def withdraw(self, amount, replays):
            key = f"w{next(counter)}"
            try:
                for _ in range(replays):
                    rebates.withdraw(self.inviter(), amount, key)
                    db.session.commit()
            except DomainError:
                db.session.rollback()
                assert amount < MIN_WITHDRAW or amount > self.inviter_rebate
                return
            assert MIN_WITHDRAW <= amount <= self.inviter_rebate
            self.inviter_rebate -= amount
            self.inviter_balance += amount

        @rule(amount=AMOUNTS, credit=st.booleans())
        def adjust(self, amount, credit):
            yuan = f"{amount // 100}.{amount % 100:02d}"
            direction = "credit" if credit else "debit"
            try:
                adjustments.adjust_balance(
                    self.clerk(),
                    self.customer_id,
                    direction,
                    yuan,
                    "调账",
                    f"adjust-{next(counter):012d}",
                )
                db.session.commit()
            except ValidationFailed:
                db.session.rollback()
                assert not credit and amount > self.balance
                return
            assert credit or amount <= self.balance
            self.balance += amount if credit else -amount

        @invariant()
        def money_adds_up(self):
            assert ledger.balance_fen(self.customer()) == self.balance
            assert rebates.rebate_balance_fen(self.inviter()) == self.inviter_rebate
            assert ledger.balance_fen(self.inviter()) == self.inviter_balance
            for order_id, model in self.orders.items():
                order = db.session.get(Order, order_id)
                db.session.refresh(order)
                assert order.status == model["status"]
                assert (order.paid_fen or 0) == model["paid"]
                assert order.refunded_fen == model.get("refunded", 0) <= (order.paid_fen or 0)
            assert memberships.member_percent(self.customer_id) == (
                TIER_PERCENT if self.member else 0
            )
            for recharge_id, (status, _) in self.recharge_status.items():
                assert db.session.get(Recharge, recharge_id).status == status
            db.session.rollback()  # end the read, so other sessions may write (SQLite)

    run_state_machine_as_test(
        Money,
        settings=settings(
            max_examples=200,  # guides/reliability.md: at least 200
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )


def test_money_state_machine(app, make_customer, make_staff, insert_orders):
    run_machine(app, make_customer, make_staff, insert_orders)
