"""The ingestion ledger: every received file, once, with what became of it.

A file is known by its path and its SHA-256. Content already seen under any other name is
recorded as a duplicate of the first and never loaded again, so a village that sends the
same list twice is not counted twice. The ledger lives in any SQLAlchemy database
(SQLite under the data root by default).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    DateTime,
    event,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

LOADED = "loaded"
DUPLICATE = "duplicate"
UNREADABLE = "unreadable"


class Base(DeclarativeBase):
    pass


class IngestedFile(Base):
    __tablename__ = "ingested_file"
    __table_args__ = (UniqueConstraint("file", "sha256", name="uq_ingested_file_path_content"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    load_id: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(40))
    area: Mapped[str] = mapped_column(String(80))
    file: Mapped[str] = mapped_column(String(1000))  # relative to the landing root, posix
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    alasan: Mapped[str | None] = mapped_column(Text, nullable=True)  # the reason in Bahasa Indonesia
    duplicate_of: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    sheet: Mapped[str | None] = mapped_column(String(200), nullable=True)
    header_row: Mapped[int | None] = mapped_column(Integer, nullable=True)
    data_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bronze_path: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class StandardisedFile(Base):
    """What the standardise stage made of one loaded file under one version of the rules."""

    __tablename__ = "standardised_file"
    __table_args__ = (UniqueConstraint("sha256", "rules_version", name="uq_standardised_file_rules"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    load_id: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(40))
    area: Mapped[str] = mapped_column(String(80))
    file: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    rules_version: Mapped[str] = mapped_column(String(64))
    rows_in: Mapped[int] = mapped_column(Integer)
    rows_silver: Mapped[int] = mapped_column(Integer)
    rows_quarantine: Mapped[int] = mapped_column(Integer)
    blocked: Mapped[bool] = mapped_column(Boolean)
    block_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    processed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ReviewDecision(Base):
    """A person's verdict on a pair from the review queue; it holds on every later night."""

    __tablename__ = "review_decision"
    __table_args__ = (UniqueConstraint("pair_id", name="uq_review_decision_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pair_id: Mapped[str] = mapped_column(String(40))
    same_person: Mapped[bool] = mapped_column(Boolean)
    decided_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class FailedLoad(Base):
    """A source of a regency or branch that a run could not load: that night's exports of the
    areas it serves wait until the load is fixed. Kept here, not in a file, because the export
    task may run on another worker than the load."""

    __tablename__ = "failed_load"
    __table_args__ = (UniqueConstraint("load_id", "source", "area"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    load_id: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(40))
    area: Mapped[str] = mapped_column(String(80))
    error: Mapped[str] = mapped_column(String(200))  # the error's type only: a message may quote a cell
    failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Known:
    by_path_and_content: set[tuple[str, str]]
    first_file_by_content: dict[str, str]  # sha256 -> the file it was first loaded from


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # one commit per file keeps the ledger true after a crash; WAL makes those commits cheap
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class Ledger:
    def __init__(self, url: str):
        # parallel tasks (one per regency) share a SQLite ledger: wait for the lock, do not fail
        args = {"timeout": 60} if url.startswith("sqlite") else {}
        self.engine: Engine = create_engine(url, future=True, connect_args=args)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)

    def known(self) -> Known:
        with Session(self.engine) as s:
            rows = s.execute(
                select(IngestedFile.file, IngestedFile.sha256, IngestedFile.status).order_by(IngestedFile.id)
            ).all()
        first: dict[str, str] = {}
        for f, sha, status in rows:
            # only loaded content makes a later copy a duplicate: a file refused for its
            # folder may be sent again, correctly filed, and must then load
            if status == LOADED:
                first.setdefault(sha, f)
        return Known({(f, sha) for f, sha, _ in rows}, first)

    def record(self, entry: IngestedFile) -> None:
        self.record_all([entry])

    def received_before(self, cutoff: dt.datetime) -> dict[str, dt.datetime]:
        """The loaded files received before ``cutoff``, by SHA-256, with their time (UTC)."""
        out = {}
        for e in self.entries():
            # SQLite hands timestamps back without their zone; the ledger stores UTC
            at = e.received_at if e.received_at.tzinfo else e.received_at.replace(tzinfo=dt.timezone.utc)
            if e.status == LOADED and at < cutoff:
                out.setdefault(e.sha256, at)
        return out

    def entries(self, load_id: str | None = None) -> list[IngestedFile]:
        with Session(self.engine) as s:
            q = select(IngestedFile).order_by(IngestedFile.id)
            if load_id is not None:
                q = q.where(IngestedFile.load_id == load_id)
            rows = list(s.scalars(q))
            s.expunge_all()
        return rows

    def standardised(self, rules_version: str) -> set[str]:
        with Session(self.engine) as s:
            return set(s.scalars(select(StandardisedFile.sha256).where(StandardisedFile.rules_version == rules_version)))

    def record_all(self, entries: list) -> None:
        with Session(self.engine) as s, s.begin():
            s.add_all(entries)

    def session(self) -> Session:
        return Session(self.engine)

    def load_failed(self, load_id: str, source: str, area: str, error: str) -> None:
        with Session(self.engine) as s, s.begin():
            s.execute(delete(FailedLoad).where(FailedLoad.load_id == load_id, FailedLoad.source == source,
                                               FailedLoad.area == area))
            s.add(FailedLoad(load_id=load_id, source=source, area=area, error=error,
                             failed_at=dt.datetime.now(dt.timezone.utc)))

    def load_succeeded(self, load_id: str, source: str, area: str) -> None:
        """A retry that loads clears the failure its earlier try recorded."""
        with Session(self.engine) as s, s.begin():
            s.execute(delete(FailedLoad).where(FailedLoad.load_id == load_id, FailedLoad.source == source,
                                               FailedLoad.area == area))

    def failed_loads(self, load_id: str) -> list[tuple[str, str]]:
        with Session(self.engine) as s:
            return sorted((r.source, r.area) for r in s.scalars(select(FailedLoad).where(FailedLoad.load_id == load_id)))

    def dispose(self) -> None:
        self.engine.dispose()
