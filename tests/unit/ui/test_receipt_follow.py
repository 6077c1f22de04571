"""ReceiptFollower after the window closed (control flow, with a fake form): a command accepted while the
window was closing shows nothing and follows nothing (it used to write into a deleted label)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from desktop_app.ui.receipt_follow import ReceiptFollower
from desktop_app.ui.receipt_text import PlacedOrder


class FakeForm:
    def __init__(self) -> None:
        self.shown: list[str] = []

    def show_receipt(self, text: str, details: str = "") -> None:
        self.shown.append(text)


def test_a_receipt_after_stop_is_not_shown_or_followed():
    form = FakeForm()
    follower = ReceiptFollower(form, command=None, query=None)  # type: ignore[arg-type]
    follower.stop()
    receipt = SimpleNamespace(order_id=uuid.uuid4(), command_id="c-1", partition=None, offset=None)
    follower.follow(PlacedOrder("alice", 1, 350), receipt)  # no running loop needed: nothing is started
    assert form.shown == [] and follower.latest_command_id is None
