"""What a customer id and an item name are (`customer_id_of`, `item_name_of`), seen through validate().

The rule: exact and case-sensitive after trimming surrounding whitespace, in Unicode NFC; refused when
it has no visible character or holds a direction-control (bidi) character.
"""

from __future__ import annotations

import unicodedata

import pytest

from desktop_app.command.model import LineInput, PlaceOrder, check, customer_id_of, item_name_of, validate

E_ACUTE_NFD = "e\u0301"  # "é" typed as e + combining acute accent
E_ACUTE_NFC = "\u00e9"


def placed(customer: str = "alice", item: str = "Tea") -> PlaceOrder:
    return PlaceOrder(customer, (LineInput(item, "3.50", "1"),), "cmd-1")


def problems_of(command: PlaceOrder) -> list[tuple[str, str]]:
    return [tuple(p) for p in validate(command)]


def test_customer_ids_keep_their_case_so_alice_and_alice_are_two_customers() -> None:
    upper, lower = check(placed(customer="Alice")), check(placed(customer="alice"))
    assert (upper.customer_id, lower.customer_id) == ("Alice", "alice")
    assert upper.to_event("t").payload.customer_id != lower.to_event("t").payload.customer_id


def test_item_names_keep_their_case_too() -> None:
    assert check(placed(item="Television")).lines[0].item == "Television"
    assert check(placed(item="television")).lines[0].item == "television"


def test_only_surrounding_whitespace_is_trimmed() -> None:
    assert check(placed(customer=" alice ")).customer_id == "alice"
    assert check(placed(customer="\u3000Mary Ann\u00a0")).customer_id == "Mary Ann"
    assert check(placed(item="  Green  Tea\t")).lines[0].item == "Green  Tea"  # inner spaces are typed text


def test_one_visible_spelling_is_one_id_in_nfc() -> None:
    decomposed, composed = check(placed(customer=f"Zo{E_ACUTE_NFD}")), check(placed(customer=f"Zo{E_ACUTE_NFC}"))
    assert decomposed.customer_id == composed.customer_id == f"Zo{E_ACUTE_NFC}"
    assert check(placed(item=f"Caf{E_ACUTE_NFD}")).lines[0].item == f"Caf{E_ACUTE_NFC}"


def test_the_length_limit_counts_characters_after_nfc() -> None:
    typed = E_ACUTE_NFD * 64  # 128 code points as typed, 64 characters as seen
    assert check(placed(customer=typed)).customer_id == E_ACUTE_NFC * 64
    assert problems_of(placed(customer=E_ACUTE_NFD * 65)) == [("customer", "at most 64 characters (this has 65)")]


@pytest.mark.parametrize(
    "text",
    ["\u200b", "\ufeff", "\u200d", "\u2060", " \u200b\u200c ", "\u0301", "\u0301\u0302", "\u20dd", "\u00ad",
     "\u3164", "\u115f\u1160", "\uffa0", "\u2800", "\u2800\u200b\u3164"],
    ids=["zero-width space", "BOM", "ZWJ", "word joiner", "zero-widths padded", "lone combining accent",
         "two combining accents", "enclosing circle", "soft hyphen", "hangul filler", "hangul jamo fillers",
         "halfwidth hangul filler", "blank braille pattern", "blanks mixed"],
)
def test_a_label_with_no_visible_character_is_refused(text: str) -> None:
    assert problems_of(placed(customer=text)) == [("customer", "must contain a visible character")]
    assert problems_of(placed(item=text)) == [("line[1].item", "must contain a visible character")]


@pytest.mark.parametrize(
    "text",
    ["\u202e", "alice\u202e", "\u202eecila", "\u202a\u202cx", "\u2066x\u2069", "\u2067x", "\u2068x",
     "x\u200e", "x\u200f", "x\u061c", "\u202bx", "\u202dx"],
)
def test_direction_control_characters_are_refused(text: str) -> None:
    assert problems_of(placed(customer=text)) == [("customer", "must not contain direction-control characters")]
    assert problems_of(placed(item=text)) == [("line[1].item", "must not contain direction-control characters")]


@pytest.mark.parametrize(
    "text",
    ["👩\u200d🍳", "Zoë", "山田", "שלום", "مرحبا", "می\u200cخواهم", "a\u0301", "O'Brien", "🇬🇧", "\u2801"],
    ids=["emoji with joiner", "latin", "cjk", "hebrew", "arabic", "persian with non-joiner", "accented",
         "apostrophe", "flag", "braille dot"],
)
def test_visible_text_with_joiners_marks_or_right_to_left_letters_is_accepted(text: str) -> None:
    assert check(placed(customer=text)).customer_id == unicodedata.normalize("NFC", text)


@pytest.mark.parametrize(
    ("text", "code"),
    [("x\u200by", "200B"), ("al\u2060ice", "2060"), ("bob\ufeff", "FEFF"), ("co\u00adst", "00AD"),
     ("x\u3164", "3164"), ("a\u2062b", "2062")],
    ids=["zero-width space", "word joiner", "BOM at the end", "soft hyphen", "hangul filler", "invisible times"],
)
def test_invisible_characters_inside_visible_text_are_refused(text: str, code: str) -> None:
    # "x<ZWSP>y" looks like "xy": two customers a clerk could not tell apart
    reason = f"must not contain invisible characters (U+{code})"
    assert problems_of(placed(customer=text)) == [("customer", reason)]
    assert problems_of(placed(item=text)) == [("line[1].item", reason)]


@pytest.mark.parametrize(("text", "code"), [("x\ue000", "E000"), ("\U000f0000y", "F0000"), ("z\u0378", "0378")],
                         ids=["private use", "supplementary private use", "unassigned"])
def test_private_use_and_unassigned_characters_are_refused(text: str, code: str) -> None:
    reason = f"must not contain private-use or unassigned characters (U+{code})"
    assert problems_of(placed(customer=text)) == [("customer", reason)]


def test_the_rule_functions_raise_with_the_same_reasons() -> None:
    assert customer_id_of(" Alice ") == "Alice" and item_name_of(f" Caf{E_ACUTE_NFD} ") == f"Caf{E_ACUTE_NFC}"
    with pytest.raises(ValueError, match="must contain a visible character"):
        customer_id_of("\u200b")
    with pytest.raises(ValueError, match="direction-control"):
        item_name_of("\u202eTea")
    with pytest.raises(ValueError, match="at most 120 characters"):
        item_name_of("i" * 121)
