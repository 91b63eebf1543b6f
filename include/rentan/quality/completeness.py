"""Is a branch's night complete? Its package and its regencies' coverage depend on the answer.

A BPJS TK branch's night is complete when, for each extract the branch must send
(``branch_extracts`` in configuration: membership, and claims where configured):

- one was received within its maximum age before the night's cut-off, loaded, and not held back
  by a blocking rule;
- no extract received after that good one was held back or could not be read (a newer extract
  that failed must not silently leave the older one in charge);

and every load of this run that feeds the branch (its extracts, its regencies' submissions)
finished. A load counts as finished only when its task got to the end: one killed by a signal,
the out-of-memory killer or a timeout is still ``started`` in the ledger and counts as failed.

An incomplete night gets no package for that branch, an alert naming the branch, the file and
what to do, a line in ``rentan summary``, and coverage marked incomplete (never a silent 0%).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from rentan.config import Config
from rentan.core.ledger import LOADED, UNREADABLE, Ledger
from rentan.core.masking import mask_digits
from rentan.core.night import WIB

# files refused for what they are, not damaged extracts: a cover letter (.pdf) in the folder
NOT_AN_EXTRACT = {"not_spreadsheet", "unknown_source", "no_area_folder", "unknown_area", "ignored",
                  # nor a stray link, a pipe, or a file gone before it was read
                  "symlink_invalid", "symlink_outside", "not_regular_file", "vanished"}
# gaps that leave the coverage figures unknown (the claims extract does not feed them)
COVERAGE_SOURCES = ("membership", "submissions")


class IncompleteNight(RuntimeError):
    """A branch's inputs for the night are missing, held back or did not finish loading."""


@dataclass(frozen=True)
class Gap:
    source: str
    area: str
    code: str
    what: str    # what is missing, naming the file
    todo: str    # what to do about it

    def __str__(self) -> str:
        return f"{self.what}; {self.todo}"


@dataclass
class BranchNight:
    branch: str
    gaps: list[Gap] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.gaps

    @property
    def coverage_complete(self) -> bool:
        return not any(g.source in COVERAGE_SOURCES for g in self.gaps)

    def reason(self, sources: tuple[str, ...] | None = None) -> str | None:
        """What is missing, then what to do (each thing said once)."""
        gaps = [g for g in self.gaps if sources is None or g.source in sources]
        if not gaps:
            return None
        todo = list(dict.fromkeys(g.todo for g in gaps))
        return "; ".join(g.what for g in gaps) + ". To do: " + "; ".join(todo) + "."


def _when(at: dt.datetime) -> str:
    return at.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def _extract_gaps(ledger: Ledger, config: Config, cutoff: dt.datetime) -> dict[str, list[Gap]]:
    verdicts = ledger.verdicts()
    gaps: dict[str, list[Gap]] = {b: [] for b in config.branches}
    entries = [e for e in ledger.entries() if e.source in ("membership", "claims") and e.area in gaps
               and _utc(e.received_at) < cutoff]
    for b in config.branches.values():
        for source, max_age in sorted(b.extracts.items()):
            folder = f"landing/{source}/{b.slug}/"
            files = sorted((e for e in entries if e.source == source and e.area == b.slug
                            and (e.status == LOADED or (e.status == UNREADABLE and e.reason_code not in NOT_AN_EXTRACT))),
                           key=lambda e: (_utc(e.received_at), e.file))

            def good(e) -> bool:
                v = verdicts.get(e.sha256)
                return e.status == LOADED and v is not None and not v.blocked

            ok = [e for e in files if good(e)]
            newest = ok[-1] if ok else None
            ask = f"ask {b.name} for its {source} extract, put it in {folder} and rerun the night"
            if newest is None:
                gaps[b.slug].append(Gap(source, b.slug, "no_extract",
                                        f"no usable {source} extract of branch {b.slug} received before {_when(cutoff)}", ask))
            elif _utc(newest.received_at) < cutoff - dt.timedelta(days=max_age):
                gaps[b.slug].append(Gap(source, b.slug, "extract_too_old",
                                        f"the newest {source} extract of branch {b.slug} ({mask_digits(newest.file)}, "
                                        f"received {_when(newest.received_at)}) is older than {max_age} days", ask))
            after = [e for e in files if not good(e) and (newest is None or (_utc(e.received_at), e.file)
                                                          > (_utc(newest.received_at), newest.file))]
            for e in after:
                name = mask_digits(e.file)
                if e.status == UNREADABLE:
                    what = f"the {source} extract {name} (received {_when(e.received_at)}) could not be read: {e.reason}"
                elif verdicts.get(e.sha256) is None:
                    what = f"the {source} extract {name} (received {_when(e.received_at)}) was loaded but not standardised"
                else:
                    what = (f"the {source} extract {name} (received {_when(e.received_at)}) was held back: "
                            f"{mask_digits(verdicts[e.sha256].block_reason or 'a blocking rule')}")
                gaps[b.slug].append(Gap(source, b.slug, "extract_not_usable", what,
                                        f"ask {b.name} for a corrected extract, put it in {folder} and rerun the night"))
    return gaps


def check(ledger: Ledger, config: Config, cutoff: dt.datetime, load_id: str | None = None) -> dict[str, BranchNight]:
    """Each configured branch's night: complete, or the gaps that keep it from being so."""
    gaps = _extract_gaps(ledger, config, cutoff)
    unfinished = ledger.unfinished_loads(load_id) if load_id else []
    out = {}
    for b in config.branches.values():
        night = BranchNight(b.slug, gaps[b.slug])
        for run in unfinished:
            feeds = ((run.source in b.extracts and run.area == b.slug)
                     or (run.source == "submissions" and run.area in b.regencies))
            if not feeds:
                continue
            how = {"planned": "never started", "started": "started but never finished (killed or timed out)",
                   "failed": f"failed ({run.error})"}.get(run.state, run.state)
            night.gaps.append(Gap(run.source, run.area, "load_unfinished",
                                  f"the {run.source} load of {run.area} {how} in run {run.load_id}",
                                  f"see task load_{run.source}[{run.area}], fix it and rerun the night"))
        out[b.slug] = night
    return out
