"""The read model's tables (SQLModel) and how to open its SQLite file.

The tables live in the shared SQLModel metadata, so they are always created explicitly (READ_MODEL_TABLES)
and never with a bare `create_all()`, which would also create other stores' tables in this file.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Column, DateTime, Engine, Index, LargeBinary, String, create_engine, event, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel

# Bump when the projection's meaning changes (new columns, another band rule): the view is then rebuilt.
# 2: copies of one event id resolved by position and content (contracts), with per-event lines to take back.
# 3: orders (cancellations subtract an order's lines; amendments replace an order), line values and totals.
# 4: orders found by order_key (the id's first 64 bits) instead of a unique index on the id's text.
PROJECTION_VERSION = 4
META_PROJECTION_VERSION = "projection_version"

_WITHOUT_ROWID = {"sqlite_with_rowid": False}


class OrderedItem(SQLModel, table=True):
    """What one customer ordered of one item at one unit price, summed over all their orders."""

    __tablename__ = "ordered_items"  # type: ignore[assignment]
    __table_args__ = (
        Index("ix_ordered_items_band_customer_item", "band", "customer_id", "item"),
        _WITHOUT_ROWID,
    )

    customer_id: str = Field(primary_key=True)
    item: str = Field(primary_key=True)
    unit_price_pence: int = Field(primary_key=True)
    band: str = Field(sa_column=Column(String(16), nullable=False))  # a Band value
    quantity: int
    orders: int
    # naive UTC, from the events' occurred_at: stored as fixed-width text, so SQLite's min/max order by time
    first_ordered: datetime = Field(sa_column=Column(DateTime(), nullable=False))
    last_ordered: datetime = Field(sa_column=Column(DateTime(), nullable=False))


class AppliedEvent(SQLModel, table=True):
    """Every event counted in the view: the position of the copy that counts, and its content digest."""

    __tablename__ = "applied_events"  # type: ignore[assignment]
    __table_args__ = _WITHOUT_ROWID

    event_id: bytes = Field(sa_column=Column(LargeBinary(16), primary_key=True))  # uuid.bytes
    partition: int
    offset: int
    # contracts.content_digest of that copy; NULL only in a view built before projection version 2
    digest: bytes | None = Field(default=None, sa_column=Column(LargeBinary(16), nullable=True))


class EventCopy(SQLModel, table=True):
    """Every other copy of a counted event id (a re-send, or a reused id), so a lower copy read later
    can judge them again (contracts: "Copies of one event id")."""

    __tablename__ = "event_copies"  # type: ignore[assignment]
    __table_args__ = _WITHOUT_ROWID

    event_id: bytes = Field(sa_column=Column(LargeBinary(16), primary_key=True))
    partition: int = Field(primary_key=True)
    offset: int = Field(primary_key=True)
    digest: bytes = Field(sa_column=Column(LargeBinary(16), nullable=False))


class OrderStatus(str, Enum):
    """What became of an order (the orders table's status column)."""

    PLACED = "placed"
    CANCELLED = "cancelled"
    REPLACED = "replaced"  # cancelled by an amendment, which placed the order that replaces it

    def __str__(self) -> str:
        return self.value


# the stored texts, for the projector's per-event code (an Enum member's .value is a descriptor call)
PLACED, CANCELLED, REPLACED = (status.value for status in OrderStatus)


class OrderRecord(SQLModel, table=True):
    """One order: what its OrderPlaced added to ordered_items (its lines), and what became of it.

    status: "placed" (its lines count in ordered_items), "cancelled" or "replaced" (an amendment's
    cancellation took its lines back out). The lines are kept as placed, so a cancellation, or a lower
    copy of a reused event id taking over, subtracts exactly what the order added.
    """

    __tablename__ = "orders"  # type: ignore[assignment]
    __table_args__ = (
        # an order is known by its id in its partition (order_book: the same id in two partitions is two orders),
        # found through its order_key: 8-byte random keys make a B-tree a third the size of the 36-char ids'
        # (fewer pages to touch per insert). Not unique: ids may share a key; order_book compares the full id.
        Index("ix_orders_key_partition", "order_key", "partition"),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
        Index("ix_orders_placed", "placed_at"),
    )

    seq: int | None = Field(default=None, primary_key=True)  # the rowid: rows are appended
    order_id: str = Field(sa_column=Column(String(36), nullable=False))  # canonical UUID text
    order_key: int  # order_key(order_id): look an order up by both
    # its OrderPlaced. No index: ids are random, so one meant a B-tree insert at a random place per order,
    # for the one reader that needs it (order_book.take_back: rare, and a scan of cancel_event_id anyway).
    # A version-3 file made before this keeps its unique index (sqlite_autoindex_orders_1): same rows, same
    # answers, only slower writes; the version stays 3, as no release has version 3 yet.
    event_id: bytes = Field(sa_column=Column(LargeBinary(16), nullable=False))
    customer_id: str
    placed_at: datetime = Field(sa_column=Column(DateTime(), nullable=False))  # naive UTC, as in ordered_items
    source: str
    partition: int
    offset: int
    line_count: int
    total_pence: int
    status: str  # an OrderStatus value
    # JSON [[item, unit_price_pence, quantity], ...], the lines as placed
    lines: str
    replaces: str | None = None  # the order this one replaced (an amendment)
    replaced_by: str | None = None
    cancelled_at: datetime | None = Field(default=None, sa_column=Column(DateTime(), nullable=True))
    reason: str | None = None
    # the OrderCancelled that applied to it: no index, only a reused id taking over looks it up
    cancel_event_id: bytes | None = Field(default=None, sa_column=Column(LargeBinary(16), nullable=True))
    cancel_partition: int | None = None
    cancel_offset: int | None = None
    cancel_source: str | None = None


class IgnoredEvent(SQLModel, table=True):
    """A valid event that changes no row: a cancellation of an order the view does not know (or of one
    already cancelled, or of another customer's), or an order whose id is already taken. Counted and
    listed, like the quarantine, but the record is a valid event."""

    __tablename__ = "ignored_events"  # type: ignore[assignment]
    __table_args__ = (Index("ix_ignored_order", "order_id", "partition"),)

    event_id: bytes = Field(sa_column=Column(LargeBinary(16), primary_key=True))
    event_type: str
    order_id: str
    customer_id: str
    partition: int
    offset: int
    occurred_at: datetime = Field(sa_column=Column(DateTime(), nullable=False))
    source: str
    reason: str
    # JSON of what judging the event again needs: a cancellation's reason text, an order's lines and replaces
    detail: str = "{}"


class PartitionOffset(SQLModel, table=True):
    """The next offset to read per partition, committed with the view changes it led to."""

    __tablename__ = "partition_offsets"  # type: ignore[assignment]
    __table_args__ = _WITHOUT_ROWID

    topic: str = Field(primary_key=True)
    partition: int = Field(primary_key=True)
    next_offset: int


class QuarantinedRecord(SQLModel, table=True):
    """A record that is not a valid event: kept with the reason, skipped by the view."""

    __tablename__ = "quarantined_records"  # type: ignore[assignment]

    topic: str = Field(primary_key=True)
    partition: int = Field(primary_key=True)
    offset: int = Field(primary_key=True)
    reason: str
    value: bytes | None = None
    key: bytes | None = None
    headers: str = "[]"  # JSON list of [name, value decoded as UTF-8 with backslash escapes]
    quarantined_at: datetime = Field(sa_column=Column(DateTime(), nullable=False))  # naive UTC


class ReadModelMeta(SQLModel, table=True):
    """Facts about the view itself, such as the projection version it was built with."""

    __tablename__ = "readmodel_meta"  # type: ignore[assignment]

    key: str = Field(primary_key=True)
    value: str


def order_key(order_id: str) -> int:
    """The orders table's key of an order id (canonical UUID text): its first 64 bits as SQLite's signed integer.
    Two ids can share a key, so whoever looks an order up by key also compares order_id."""
    value = int(order_id[:8] + order_id[9:13] + order_id[14:18], 16)
    return value - (1 << 64) if value >= 1 << 63 else value


READ_MODEL_TABLES = [
    OrderedItem.__table__,
    AppliedEvent.__table__,
    EventCopy.__table__,
    OrderRecord.__table__,
    IgnoredEvent.__table__,
    PartitionOffset.__table__,
    QuarantinedRecord.__table__,
    ReadModelMeta.__table__,
]


# 16 MiB page cache for the projector's connection. Bigger caches project faster (32 MiB ~6%, 64 MiB ~13%)
# but put the window's process plus its projector child above 300 MB after 1M events.
WRITER_CACHE_KIB = 16_384
WRITER_CHECKPOINT_PAGES = 20_000  # about 80 MB of WAL between automatic checkpoints (default 1,000 pages)


def open_engine(db_path: Path, *, writer: bool = False, busy_timeout_ms: int = 5000, create: bool = True) -> Engine:
    """An engine on the read-model file: WAL, synchronous=NORMAL, explicit transactions.

    Transactions start with BEGIN (readers: one consistent snapshot per transaction) or BEGIN IMMEDIATE
    (the writer: takes the write lock up front instead of failing half-way). Connections may be used
    from any thread, one at a time, as the pool hands them out. With create=False a missing file is an
    error (OperationalError on connect) instead of a new empty read model.
    """
    db_path = Path(db_path)
    if create:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        url = URL.create("sqlite", database=str(db_path))
    else:
        url = URL.create("sqlite", database=db_path.absolute().as_uri(), query={"uri": "true", "mode": "rw"})
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        if writer:
            # The projector writes big batches: a larger page cache and rarer WAL checkpoints keep
            # commits short; the WAL is still checkpointed, in bigger steps.
            cursor.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
            cursor.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def ensure_schema(engine: Engine) -> None:
    """Create the tables if missing and record the projection version of a new read model."""
    with engine.begin() as connection:
        SQLModel.metadata.create_all(connection, tables=READ_MODEL_TABLES)
        _add_missing_columns(connection)
        meta = ReadModelMeta.__table__
        connection.execute(
            sqlite_insert(meta)
            .values(key=META_PROJECTION_VERSION, value=str(PROJECTION_VERSION))
            .on_conflict_do_nothing()
        )


# Indexes only readers use (EXPLAIN QUERY PLAN of the projector's statements names none of them). A rebuild's
# shadow has nobody reading it, so it is built without them and gets them once, just before the swap
# (`create_read_indexes`): one sort instead of a B-tree insert per row.
READ_ONLY_INDEXES = [
    index for index in (*OrderedItem.__table__.indexes, *OrderRecord.__table__.indexes)
    if index.name in ("ix_ordered_items_band_customer_item", "ix_orders_placed")
]


def ensure_shadow_schema(engine: Engine) -> None:
    """`ensure_schema` for a new shadow file: the tables without READ_ONLY_INDEXES (dropped while still empty).
    Tables that exist are left alone, by this and by `ensure_schema`, so a restarted shadow stays without them."""
    with engine.begin() as connection:
        new = not any(connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'orders'"))
    ensure_schema(engine)
    if new:
        with engine.begin() as connection:
            for index in READ_ONLY_INDEXES:
                index.drop(connection)


def create_read_indexes(engine: Engine) -> None:
    """Create the READ_ONLY_INDEXES a shadow was built without (those missing); done before it is swapped in."""
    with engine.begin() as connection:
        for index in READ_ONLY_INDEXES:
            index.create(connection, checkfirst=True)


def _add_missing_columns(connection: Any) -> None:
    """Columns newer code added to existing tables: an older view keeps being served (and projected into)
    until its rebuild in the shadow, which the changed PROJECTION_VERSION starts, swaps in."""
    applied = {row[1] for row in connection.exec_driver_sql("PRAGMA table_info(applied_events)")}
    if "digest" not in applied:
        connection.exec_driver_sql("ALTER TABLE applied_events ADD COLUMN digest BLOB")
    orders = {row[1] for row in connection.exec_driver_sql("PRAGMA table_info(orders)")}
    if "order_key" not in orders:  # a view of version 3: its orders are found by key from now on
        connection.exec_driver_sql("ALTER TABLE orders ADD COLUMN order_key INTEGER")
        stored = connection.exec_driver_sql("SELECT seq, order_id FROM orders").all()
        if stored:
            connection.exec_driver_sql("UPDATE orders SET order_key = ? WHERE seq = ?",
                                       [(order_key(order_id), seq) for seq, order_id in stored])
        for index in OrderRecord.__table__.indexes:
            if index.name == "ix_orders_key_partition":
                index.create(connection, checkfirst=True)


def store_projection_version(engine: Engine, version: int = PROJECTION_VERSION) -> None:
    """Record which projection code built this read model (done by the projector; tests set older ones)."""
    meta = ReadModelMeta.__table__
    statement = sqlite_insert(meta).values(key=META_PROJECTION_VERSION, value=str(version))
    with engine.begin() as connection:
        connection.execute(statement.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": str(version)}))


def stored_projection_version(engine: Engine) -> int | None:
    meta = ReadModelMeta.__table__
    with engine.connect() as connection:
        value = connection.execute(
            select(meta.c.value).where(meta.c.key == META_PROJECTION_VERSION)
        ).scalar_one_or_none()
    return int(value) if value is not None else None
