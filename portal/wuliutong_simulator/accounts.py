"""The simulator's demo 物流通 accounts (development and tests; the README cites this list).

Log in on the 物流通 tab with `wlt-demo` / `wlt-demo-2026` (gives a verified mobile number),
`wlt-second` / `wlt-second-2026` (no mobile number) or `wlt-disabled` / `wlt-disabled-2026`
(disabled at 物流通, so refused).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoAccount:
    name: str
    password: str
    account_id: str
    display_name: str
    phone: str | None = None
    phone_verified: bool = False
    disabled: bool = False


DEMO_ACCOUNTS = {
    account.name: account
    for account in (
        DemoAccount(
            "wlt-demo", "wlt-demo-2026", "WLT-100001", "物流通演示客户", "+8613700137001", True
        ),
        DemoAccount("wlt-second", "wlt-second-2026", "WLT-100002", "物流通第二客户"),
        DemoAccount("wlt-disabled", "wlt-disabled-2026", "WLT-100003", "已停用客户", disabled=True),
    )
}
