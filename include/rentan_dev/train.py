"""``python -m rentan_dev.train``: m, u and the prior of the matching model, from a labelled
linkage benchmark (``rentan_dev.sample.linkage``, with a seed of its own, not the one ``make bench``
measures with).

The benchmark's records go through the very blocking passes and comparisons identity runs; each
candidate pair is labelled from the ground truth, and each level's m and u are its shares among
the pairs of one person and of two persons (with half a pair added to every level, so that no
level's weight is infinite). The thresholds and the reviewers' words in the model file stay as
they are; a table of the weights' distribution helps to set the thresholds by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from rentan.identity.matching import COMPARISONS

TRAIN_SEED = 101


def labelled_pairs(root: Path, model) -> pd.DataFrame:
    """Every candidate pair of the benchmark under ``root``, with its levels and whether it is one person."""
    from rentan.config import load_config
    from rentan.core.db import connect
    from rentan.core.ledger import Ledger
    from rentan.core.night import end_of_day as snapshot_cutoff
    from rentan.core.settings import data_paths
    from rentan.identity import records
    from rentan.identity.blocking import candidate_pairs, features, nik_pairs
    from rentan.identity.matching import mark_disputed, score_pairs, score_same_nik

    paths = data_paths(root)
    snapshot = dt.date(2025, 6, 30)
    con = connect(paths.work / "train")
    ledger = Ledger(paths.ledger_url)
    try:
        records.load(con, paths, ledger, snapshot_cutoff(snapshot), load_config())
        features(con, snapshot.year)
        nik_pairs(con)
        same = score_same_nik(con, model, keep_all=True)
        mark_disputed(con, same[same["decision"] == "conflict"])
        candidate_pairs(con, model.max_block)
        scored = pd.concat([same, score_pairs(con, model, keep_all=True)], ignore_index=True)
        person = con.execute(f"""
            select r.pos, t.person_id from records r
            join '{(paths.truth / 'linkage' / 'records*.parquet').as_posix()}' t using (record_id)
            order by r.pos""").df()
    finally:
        con.close()
        ledger.dispose()
    pid = pd.Series(person["person_id"].to_numpy(), index=person["pos"].to_numpy())
    scored["match"] = pid.reindex(scored["pos_i"]).to_numpy() == pid.reindex(scored["pos_j"]).to_numpy()
    return scored


# no level is taken as impossible: a level's share is at least this, among one person's pairs and
# among two persons' (real lists hold noise a generator does not)
FLOOR = 0.001


def estimate(pairs: pd.DataFrame) -> tuple[dict, float]:
    """m and u of every level; the prior among the pairs of different NIKs (the pairs of one NIK
    are weighed by their other fields only)."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    match = pairs["match"].to_numpy(bool)
    fuzzy = ~pairs["same_nik"].to_numpy(bool)
    for comp, names in COMPARISONS.items():
        use = fuzzy if comp == "nik" else np.ones(len(pairs), dtype=bool)
        lv = pairs[comp].to_numpy()
        cm = np.bincount(lv[use & match], minlength=len(names)).astype(float)
        cu = np.bincount(lv[use & ~match], minlength=len(names)).astype(float)
        keep = np.array([n != "missing" for n in names])
        m = np.maximum(cm / max(cm[keep].sum(), 1), FLOOR)
        u = np.maximum(cu / max(cu[keep].sum(), 1), FLOOR)
        out[comp] = {n: (m[i] / m[keep].sum(), u[i] / u[keep].sum()) for i, n in enumerate(names) if keep[i]}
    return out, float(match[fuzzy].mean())


def main(argv: list[str] | None = None) -> int:
    from rentan.identity.matching import weights
    from rentan.identity.model import MODEL_FILE, load_model, save_estimates
    from rentan_dev.sample.linkage import generate

    parser = argparse.ArgumentParser(prog="rentan-identity-train", description=__doc__)
    parser.add_argument("--proposals", type=int, default=682_000)
    parser.add_argument("--members", type=int, default=320_000)
    parser.add_argument("--provinces", nargs="*", default=["16", "18"])
    parser.add_argument("--seed", type=int, default=TRAIN_SEED)
    parser.add_argument("--model", type=Path, default=MODEL_FILE)
    parser.add_argument("--dry-run", action="store_true", help="print the estimates, leave the file alone")
    parser.add_argument("--save-pairs", type=Path, help="also write the labelled pairs to this Parquet file")
    parser.add_argument("--root", type=Path, help="a benchmark already generated there (kept), not a new one")
    args = parser.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="rentan-train-"))
    try:
        if not args.root:
            generate(root, proposals=args.proposals, members=args.members, seed=args.seed,
                     provinces=tuple(args.provinces) or None)
        model = load_model(args.model)
        pairs = labelled_pairs(root, model)
        if args.save_pairs:
            pairs.to_parquet(args.save_pairs)
        est, prior = estimate(pairs)
        what = (f"rentan_dev.sample.linkage seed {args.seed}: {args.proposals:,} proposals, {args.members:,} members, "
                f"provinces {' '.join(args.provinces) or 'all'}; {len(pairs):,} candidate pairs")
        for comp, levels in est.items():
            print(comp)
            for n, (m, u) in levels.items():
                print(f"  {n:<20} m {m:9.5f}  u {u:9.5f}  weight {np.log2(m / u):7.2f}")
        print(f"prior {prior:.4f}")
        if not args.dry_run:
            save_estimates(args.model, est, prior, what)
            model = load_model(args.model)
        fuzzy = pairs[~pairs["same_nik"]]
        lv = fuzzy[[*list(COMPARISONS), "name_score"]].reset_index(drop=True)
        w = weights(lv, model)
        m = fuzzy["match"].to_numpy(bool)
        print(f"different NIKs: {len(fuzzy):,} pairs, {int(m.sum()):,} of one person")
        print(f"{'weight >=':>10} {'pairs':>9} {'precision':>9} {'recall':>7}")
        for t in np.arange(-6, 16, 1.0):
            sel = w >= t
            print(f"{t:>10.1f} {int(sel.sum()):>9,} {m[sel].mean() if sel.any() else 1:>9.4f} {m[sel].sum() / m.sum():>7.4f}")
        same = pairs[pairs["same_nik"]]
        other = weights(same[list(COMPARISONS)].reset_index(drop=True), model, without=("nik",)) - model.prior_weight
        sm = same["match"].to_numpy(bool)
        print(f"same NIK: {len(same):,} pairs, {int((~sm).sum()):,} of two persons")
        for t in np.arange(-12, 4, 1.0):
            sel = other < t
            print(f"  other fields below {t:>5.1f}: {int(sel.sum()):>7,} pairs, {int((sel & ~sm).sum()):>6,} of two persons")
    finally:
        if not args.root:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
