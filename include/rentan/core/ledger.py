"""The ingestion ledger: every received file, once, with what became of it.

A file is known by its path and its SHA-256. Content already seen under any other name is
recorded as a duplicate of the first and never loaded again, so a village that sends the
same list twice is not counted twice. The ledger lives in any SQLAlchemy database
(SQLite under the data root by default).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

LOADED = "loaded"
DUPLICATE = "duplicate"
UNREADABLE = "unreadable"
IGNORED = "ignored"  # a dot-file (.DS_Store) or an Excel lock file (~$list.xlsx): seen, recorded, not read

# columns added since a ledger was first created, added in place to an older ledger
_ADDED_COLUMNS = {"ingested_file": {"warnings": "TEXT"}}


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
    # what the sender should hear of a file that loaded (a hidden sheet skipped, a repeated header)
    warnings: Mapped[str | None] = mapped_column(Text, nullable=True)


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


class LoadRun(Base):
    """One source of one regency or branch in one run: planned by the run's plan, started by its
    load task, and finished (succeeded or failed) only when that task gets there. A load whose
    process was killed (a signal, out of memory, a timeout) stays ``started``, which the night's
    completeness counts as not loaded, like a failure. Kept here, not in a file, because the
    marts and export tasks may run on other workers than the load."""

    __tablename__ = "load_run"
    __table_args__ = (UniqueConstraint("load_id", "source", "area", name="uq_load_run"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    load_id: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(40))
    area: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20))  # planned, started, succeeded, failed
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the error's type: a message may quote a cell
    process: Mapped[str | None] = mapped_column(String(200), nullable=True)  # host:pid of the try
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Content(Base):
    """Each distinct content (SHA-256) loaded, and the one file it was loaded from. The unique key
    is what makes "loaded once" hold across tasks running side by side, on any number of workers:
    the second task to claim a content finds it taken and records its file as a duplicate."""

    __tablename__ = "content"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    file: Mapped[str] = mapped_column(String(1000))
    source: Mapped[str] = mapped_column(String(40))
    area: Mapped[str] = mapped_column(String(80))
    load_id: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class SubmissionList(Base):
    """A village's list (one standardised submissions file): whose it is and for which year, and
    what a later list of the same village and year replaced of it (``rentan.lists``):
    ``superseded_by`` names that later list, ``rows_replaced`` says how many of its rows (all of
    them for a revision). As of the last standardise run; a night before the later list arrived
    still sees this one whole."""

    __tablename__ = "submission_list"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    file: Mapped[str] = mapped_column(String(1000))
    area: Mapped[str] = mapped_column(String(80))
    village_code: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    year_from: Mapped[str] = mapped_column(String(20))  # rows (the TAHUN column) or received (its time of receipt)
    rows: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    superseded_by: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    superseded_by_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rows_replaced: Mapped[int] = mapped_column(Integer, default=0)


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
        wait = float(os.environ.get("RENTAN_LEDGER_WAIT_SECONDS", "60"))
        args = {"timeout": wait} if url.startswith("sqlite") else {}
        self.engine: Engine = create_engine(url, future=True, connect_args=args)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self._add_columns()

    def _add_columns(self) -> None:
        insp = inspect(self.engine)
        for table, cols in _ADDED_COLUMNS.items():
            have = {c["name"] for c in insp.get_columns(table)}
            for name, kind in cols.items():
                if name not in have:
                    with self.engine.begin() as conn:
                        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))

    # -- received files ---------------------------------------------------------------------

    def known(self) -> Known:
        with Session(self.engine) as s:
            rows = s.execute(
                select(IngestedFile.file, IngestedFile.sha256, IngestedFile.status).order_by(IngestedFile.id)
            ).all()
            claims = s.execute(select(Content.sha256, Content.file)).all()
        first: dict[str, str] = dict(claims)
        for f, sha, status in rows:
            # only loaded content makes a later copy a duplicate: a file refused for its
            # folder may be sent again, correctly filed, and must then load
            if status == LOADED:
                first.setdefault(sha, f)
        return Known({(f, sha) for f, sha, _ in rows}, first)

    def claim_all(self, claims: list[tuple[str, str, str, str]], load_id: str) -> dict[str, str]:
        """Claim each content (sha256, file, source, area) for its file, in one transaction; returns
        each content's holder: the file itself where its claim won, else the file an earlier or a
        concurrent claim took it for."""
        if not claims:
            return {}
        at = dt.datetime.now(dt.UTC)
        rows = [{"sha256": sha, "file": f, "source": src, "area": area, "load_id": load_id, "claimed_at": at}
                for sha, f, src, area in claims]
        with Session(self.engine) as s, s.begin():
            if self.engine.dialect.name in ("sqlite", "postgresql"):
                insert = sqlite_insert if self.engine.dialect.name == "sqlite" else pg_insert
                for part in _chunks(rows, 500):
                    s.execute(insert(Content).values(part).on_conflict_do_nothing(index_elements=["sha256"]))
            else:  # other databases: the primary key still refuses a second
                held = self._holders(s, [str(r["sha256"]) for r in rows])
                s.add_all(Content(**r) for r in rows if r["sha256"] not in held)
        with Session(self.engine) as s:
            return self._holders(s, [str(r["sha256"]) for r in rows])

    @staticmethod
    def _holders(s: Session, shas: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in _chunks(shas, 500):
            out.update(s.execute(select(Content.sha256, Content.file).where(Content.sha256.in_(part))).all())
        return out

    def _received_before(self, cutoff: dt.datetime) -> dict[str, dt.datetime]:
        with Session(self.engine) as s:
            rows = s.execute(select(IngestedFile.sha256, IngestedFile.received_at)
                             .where(IngestedFile.status == LOADED).order_by(IngestedFile.id)).all()
        out: dict[str, dt.datetime] = {}
        for sha, at in rows:
            at = _utc(at)
            if at < cutoff:
                out.setdefault(sha, at)
        return out

    def current_files(self, cutoff: dt.datetime) -> dict[str, dt.datetime]:
        """The loaded files a snapshot with this cut-off sees, by SHA-256, with their time of
        receipt (UTC). Of a village's lists, rows a later list replaced are left out by
        ``rentan.lists.replaced_rows``."""
        return self._received_before(cutoff)

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

    def verdicts(self) -> dict[str, StandardisedFile]:
        """The latest standardise verdict of each file, by SHA-256."""
        with Session(self.engine) as s:
            rows = list(s.scalars(select(StandardisedFile).order_by(StandardisedFile.processed_at, StandardisedFile.id)))
            s.expunge_all()
        return {r.sha256: r for r in rows}

    def record_all(self, entries: list) -> None:
        with Session(self.engine) as s, s.begin():
            s.add_all(entries)

    def session(self) -> Session:
        return Session(self.engine)

    # -- village lists ----------------------------------------------------------------------

    def record_lists(self, lists: list[SubmissionList]) -> None:
        """Record (or re-record, under new rules) village lists."""
        with Session(self.engine) as s, s.begin():
            for lst in lists:
                s.merge(lst)

    def record_replacements(self, replaced: dict[str, tuple[str | None, str, int]]) -> None:
        """sha256 -> (file, sha256, rows) of the later list that replaced rows of it; the others none."""
        with Session(self.engine) as s, s.begin():
            for lst in s.scalars(select(SubmissionList)):
                by = replaced.get(lst.sha256)
                lst.superseded_by, lst.superseded_by_sha256, lst.rows_replaced = by if by else (None, None, 0)

    def submission_lists(self, cutoff: dt.datetime | None = None) -> list[SubmissionList]:
        """Every village list received before ``cutoff`` (all when None), oldest first."""
        with Session(self.engine) as s:
            every = list(s.scalars(select(SubmissionList).order_by(SubmissionList.received_at, SubmissionList.file)))
            s.expunge_all()
        return [lst for lst in every if cutoff is None or _utc(lst.received_at) < cutoff]

    # -- the loads of a run -----------------------------------------------------------------

    def _load_state(self, load_id: str, source: str, area: str, state: str, error: str | None = None,
                    process: str | None = None) -> None:
        with Session(self.engine) as s, s.begin():
            row = s.scalar(select(LoadRun).where(LoadRun.load_id == load_id, LoadRun.source == source,
                                                 LoadRun.area == area))
            if row is None:
                row = LoadRun(load_id=load_id, source=source, area=area)
                s.add(row)
            row.state, row.error, row.changed_at = state, error, dt.datetime.now(dt.UTC)
            if process is not None:
                row.process = process

    def plan_loads(self, load_id: str, loads: list[tuple[str, str]]) -> None:
        """The loads a run will make; each must finish for the night to be complete."""
        with Session(self.engine) as s, s.begin():
            have = {(r.source, r.area) for r in s.scalars(select(LoadRun).where(LoadRun.load_id == load_id))}
            now = dt.datetime.now(dt.UTC)
            s.add_all(LoadRun(load_id=load_id, source=src, area=area, state="planned", changed_at=now)
                      for src, area in loads if (src, area) not in have)

    def load_started(self, load_id: str, source: str, area: str, process: str) -> None:
        self._load_state(load_id, source, area, "started", process=process)

    def load_failed(self, load_id: str, source: str, area: str, error: str) -> None:
        self._load_state(load_id, source, area, "failed", error=error)

    def load_succeeded(self, load_id: str, source: str, area: str) -> None:
        """A retry that loads clears what its earlier try left."""
        self._load_state(load_id, source, area, "succeeded")

    def unfinished_loads(self, load_id: str) -> list[LoadRun]:
        """The loads of a run that did not succeed: failed, killed while running (still
        ``started``) or never started (``planned``)."""
        with Session(self.engine) as s:
            rows = list(s.scalars(select(LoadRun).where(LoadRun.load_id == load_id, LoadRun.state != "succeeded")
                                  .order_by(LoadRun.source, LoadRun.area)))
            s.expunge_all()
        return rows

    def dispose(self) -> None:
        self.engine.dispose()

    # ``with Ledger(url) as ledger:``: its connections are closed when the block ends
    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc) -> None:
        self.dispose()


def _utc(at: dt.datetime) -> dt.datetime:
    # SQLite hands timestamps back without their zone; the ledger stores UTC
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def _chunks(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i:i + n]
