"""How typed search text matches a row: the one rule, for the band tabs and the orders alike.

Case-insensitive (SQLite's LIKE folds ASCII case), with the text's own `%`, `_` and `\\` taken literally.
"""

from __future__ import annotations


def like_pattern(text: str, *, anywhere: bool = True) -> str:
    """A LIKE pattern (escape character `\\`) matching `text` anywhere in a value, or at its start."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%" if anywhere else f"{escaped}%"
