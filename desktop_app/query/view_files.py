"""Which SQLite file holds the live view: the read model's generations, and the pointer to the current one.

The read model is named by its base path (settings.readmodel_db_path, e.g. `data/readmodel.db`).
Generation 0 is the base file itself; a rebuild builds generation n in `readmodel-<n>.db` beside it and
swaps it in by atomically replacing the small pointer file `readmodel.current`, which holds the file name
of the current generation (no pointer: generation 0).

Files are never renamed: SQLite files with open connections and their -wal/-shm companions stay where
they are. Readers check the pointer (one stat) at each read transaction and switch engines when it
changes, in this process and in any other that reads the same data dir. Only the process holding the
read model's lock writes the pointer and deletes generations.
"""

from __future__ import annotations

import glob
import os
import re
from datetime import datetime, timezone
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")  # a database file and the files SQLite keeps beside it
POINTER_SUFFIX = ".current"
HEALING_SUFFIX = ".healing"  # a note that the view is being rebuilt after damage: one line saying why
DAMAGED_MARK = ".damaged-"
PART_MARK = ".part"  # `readmodel-<n>.db.part<k>`: a partition group's file while a rebuild replays in parallel
REPLACE_ATTEMPTS = 20  # Windows refuses to replace a file another process has open for a moment
REPLACE_RETRY_S = 0.05

PointerState = tuple[int, int, int] | None  # (inode, mtime ns, size) of the pointer file; None: no pointer


class ViewFilesError(RuntimeError):
    """The pointer file does not name a generation of this read model."""


@dataclass(frozen=True, slots=True)
class ViewFiles:
    base: Path

    @property
    def pointer(self) -> Path:
        return self.base.with_name(self.base.stem + POINTER_SUFFIX)

    def generation_path(self, generation: int) -> Path:
        if generation < 0:
            raise ValueError(f"no generation {generation}")
        if generation == 0:
            return self.base
        return self.base.with_name(f"{self.base.stem}-{generation}{self.base.suffix}")

    def generation_of(self, name: str) -> int | None:
        """The generation a database file name stands for, or None if it is not one of this read model's."""
        if name == self.base.name:
            return 0
        match = re.fullmatch(re.escape(self.base.stem) + r"-([1-9][0-9]*)" + re.escape(self.base.suffix), name)
        return int(match.group(1)) if match else None

    # -- the pointer ------------------------------------------------------------------------------------
    def pointer_state(self) -> PointerState:
        """A cheap fingerprint of the pointer file: it changes whenever the pointer is replaced."""
        try:
            stat = os.stat(self.pointer)
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def current_generation(self) -> int:
        try:
            text = self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return 0
        generation = self.generation_of(text)
        if generation is None:
            raise ViewFilesError(f"{self.pointer} names {text!r}, which is not a generation of {self.base.name}")
        return generation

    def current_path(self) -> Path:
        return self.generation_path(self.current_generation())

    def point_to(self, generation: int) -> None:
        """Make `generation` the current view: write a new pointer file, then replace the old one at once."""
        temporary = self.pointer.with_name(f"{self.pointer.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                file.write(self.generation_path(generation).name + "\n")
                file.flush()
                os.fsync(file.fileno())
            for attempt in range(REPLACE_ATTEMPTS):
                try:
                    os.replace(temporary, self.pointer)
                    break
                except PermissionError:
                    if attempt == REPLACE_ATTEMPTS - 1:
                        raise
                    time.sleep(REPLACE_RETRY_S)
        finally:
            temporary.unlink(missing_ok=True)
        _fsync_directory(self.pointer.parent)

    # -- damage ------------------------------------------------------------------------------------------
    @property
    def healing_note(self) -> Path:
        return self.base.with_name(self.base.stem + HEALING_SUFFIX)

    def healing_message(self) -> str | None:
        """Why the view is being rebuilt after damage (written by the projecting process), or None."""
        try:
            return self.healing_note.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def note_healing(self, message: str) -> None:
        temporary = self.healing_note.with_name(f"{self.healing_note.name}.tmp-{os.getpid()}")
        temporary.write_text(message + "\n", encoding="utf-8")
        os.replace(temporary, self.healing_note)

    def healed(self) -> None:
        self.healing_note.unlink(missing_ok=True)

    def move_aside(self, generation: int, when: datetime | None = None) -> Path | None:
        """Rename a damaged generation (and its -wal, -shm) to `<name>.damaged-<UTC time>.db`, kept for
        support and never read again; the new name of the database file, or None if it was gone."""
        stamp = (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
        path = self.generation_path(generation)
        aside = path.with_name(f"{path.stem}{DAMAGED_MARK}{stamp}{path.suffix}")
        moved = None
        for companion in SQLITE_COMPANIONS:
            source = path.with_name(path.name + companion)
            try:
                os.replace(source, aside.with_name(aside.name + companion))
            except FileNotFoundError:
                continue
            if not companion:
                moved = aside
        return moved

    # -- generations on disk --------------------------------------------------------------------------------
    def generations_on_disk(self) -> set[int]:
        """Every generation with a database file (or a leftover companion file) in the folder."""
        found = set()
        if not self.base.parent.is_dir():
            return found
        for entry in self.base.parent.iterdir():
            for companion in SQLITE_COMPANIONS:
                if companion and not entry.name.endswith(companion):
                    continue
                generation = self.generation_of(without_part(entry.name[: len(entry.name) - len(companion)]))
                if generation is not None:
                    found.add(generation)
                    break
        return found

    def next_generation(self) -> int:
        return max(self.generations_on_disk() | {self.current_generation()}) + 1

    def files_of(self, generation: int) -> list[Path]:
        return database_files(self.generation_path(generation))

    def remove_generation(self, generation: int) -> list[Path]:
        """Delete a generation's files; those that cannot be deleted now (in use on Windows) are returned."""
        if generation == self.current_generation():
            raise ValueError(f"generation {generation} is the current view")
        return remove_database(self.generation_path(generation))

    def remove_orphans(self) -> list[Path]:
        """Delete every generation but the current one (shadows of a cancelled or crashed rebuild, views
        replaced by one) and leftover pointer drafts. Only for the holder of the read model's lock."""
        removed = []
        current = self.current_generation()
        for generation in sorted(self.generations_on_disk() - {current}):
            existing = [path for path in self.files_of(generation) if path.exists()]
            kept = self.remove_generation(generation)
            removed += [path for path in existing if path not in kept]
        for draft in self.base.parent.glob(self.pointer.name + ".tmp-*"):
            try:
                draft.unlink()
                removed.append(draft)
            except OSError:
                pass
        return removed


def part_path(path: Path, group: int) -> Path:
    """The file partition group `group` of a parallel replay into `path` writes (group 0 writes `path`)."""
    return path if group == 0 else path.with_name(f"{path.name}{PART_MARK}{group}")


def database_files(path: Path) -> list[Path]:
    """A database file, its partition groups' files (part_path) on disk, and SQLite's files beside them all."""
    part = re.compile(re.escape(path.name + PART_MARK) + r"[1-9][0-9]*")
    parts = {match.group(0) for entry in path.parent.glob(glob.escape(path.name) + PART_MARK + "*")
             if (match := part.match(entry.name)) is not None}
    return [path.with_name(name + companion) for name in (path.name, *sorted(parts)) for companion in SQLITE_COMPANIONS]


def remove_database(path: Path) -> list[Path]:
    """Delete a database file, its partition groups' files and SQLite's files beside them; those that cannot
    be deleted now (in use on Windows) are returned."""
    kept = []
    for file in database_files(path):
        try:
            file.unlink(missing_ok=True)
        except OSError:
            kept.append(file)
    return kept


def without_part(name: str) -> str:
    """A partition group's file name without its `.part<k>`; any other name as it is."""
    match = re.fullmatch(r"(.+)" + re.escape(PART_MARK) + r"[1-9][0-9]*", name)
    return match.group(1) if match else name


def _fsync_directory(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX); Windows has no directory handles to sync."""
    if os.name == "nt":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
