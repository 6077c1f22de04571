"""Healing a damaged read model: what the projecting engine (engine.py) does with the files, and what it tells readers.

The read model is a cache of the log. When the projecting engine finds its file damaged (`PRAGMA
quick_check` at start; a corruption error while projecting or reading; the file deleted or replaced), the
file is moved aside (`readmodel-<n>.damaged-<UTC time>.db`, kept for support), a one-line note is left for
readers in every process (view_files' healing note: reads then raise ViewUnavailable with it), and the
engine rebuilds the view from the log in a shadow (rebuild.py); the note goes when that view is swapped in.
"""

from __future__ import annotations

import logging
from pathlib import Path

from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.view_files import ViewFiles
from desktop_app.query.view_health import damage_report, quick_check, reported_damage

log = logging.getLogger(__name__)


class ViewHealer:
    """The heal's file steps and its message, for one read model. Only for the holder of its lock."""

    def __init__(self, files: ViewFiles) -> None:
        self.files = files
        self.message: str | None = None  # one line while this process rebuilds the view after damage
        self.reported: tuple[Path, str] | None = None  # damage this reader reported to the projecting process

    @property
    def health(self) -> str | None:
        """One line while the view is being rebuilt after damage, here or by another process; else None."""
        healing = self.message or self.files.healing_message()
        if healing is None and self.reported is not None and reported_damage(self.reported[0]) is not None:
            return self.reported[1]
        return healing

    def check_as_reader(self) -> None:
        """A reader's `quick_check` of the view another process projects: damage found is reported to that
        process (damage_report), which heals it; reads through a damaged index would silently miss rows."""
        path = self.files.current_path()
        if not path.exists() or reported_damage(path) is not None:
            return
        problem = quick_check(path)
        if problem is None:
            return
        damage_report(path).write_text(problem + "\n", encoding="utf-8")
        message = f"read model {path} is damaged ({problem}); the process that projects it rebuilds it from the log"
        self.reported = (path, message)
        log.error("%s", message, extra={"file_only": True})

    def damage_at_start(self, path: Path) -> str | None:
        """Why the current view file cannot be trusted, or None. The very first start creates the file."""
        if not path.exists():
            first_start = (path == self.files.base and self.files.pointer_state() is None
                           and self.files.healing_message() is None)
            if not first_start:
                return "the file is missing"
            creator = open_engine(path, writer=True)
            try:
                ensure_schema(creator)
            finally:
                creator.dispose()
            return None
        problem = quick_check(path)
        if problem is None:
            self.files.healed()  # a note a heal left just before its swap, if any
        return problem

    def set_aside(self, reason: str, path: Path) -> str:
        """Move the damaged `path` aside and leave the note; the one line that says so."""
        generation = self.files.generation_of(path.name)
        moved = self.files.move_aside(generation) if generation is not None else None
        earlier = self.files.healing_message()
        if moved is not None:
            message = (f"read model {path} was damaged ({reason}); moved aside to {moved.name}; "
                       "rebuilding from the log")
        elif earlier is not None:
            message = earlier  # an earlier run began this heal; its file is aside already
        else:
            message = f"read model {path} is gone ({reason}); rebuilding from the log"
        self.files.note_healing(message)
        damage_report(path).unlink(missing_ok=True)
        self.message = message
        log.error("%s", message, extra={"file_only": True})  # the CLI and the status bar show `health`
        return message

    def healed(self, view_path: Path) -> None:
        """The rebuilt view is swapped in: readers may read again."""
        if self.health is not None:
            log.info("the read model was rebuilt from the log after damage: %s is the live view now", view_path)
        self.message = None
        self.files.healed()
