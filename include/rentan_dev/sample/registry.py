"""The BPJS TK side: who is already a member (and who pays), and which claims were paid.

Members come from two places: people a village proposes who turn out to be members already (the
membership defect classes) and a background population sized on the regencies' published figures
(Lahat: 51,398 registered workers in 2024; PALI: 4,390 village officials; Lampung Barat: 22,680).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from rentan.config import Config
from rentan_dev.sample.people import NamePools, date_parts, draw_names, to_days

# Background members per regency at scale 1 with every village kept.
BACKGROUND: dict[str, dict[str, int]] = {
    "lahat": {"pu_employee": 36000, "bpu_self": 3500, "jakon": 2000, "pmi": 300},
    "pali": {"pu_employee": 12000, "bpu_self": 1500, "jakon": 1200, "pmi": 100},
    "lampung-barat": {"pu_employee": 18500, "bpu_self": 2300, "jakon": 600, "pmi": 250},
}
DEFAULT_BACKGROUND = {"pu_employee": 5000, "bpu_self": 800, "jakon": 300, "pmi": 50}
# Village officials insured through their village government, per desa.
PERANGKAT_PER_VILLAGE = {"lahat": 10, "pali": 67, "lampung-barat": 8}
# Members already paid from ADD in an earlier year, per desa (uniform 0..max) where the programme ran before.
COHORT_MAX_PER_VILLAGE = {"lahat": 60, "lampung-barat": 10}
CLAIMS_PER_BRANCH = {"lahat": 4000, "muara-enim": 1500, "lampung-tengah": 3000}
DEFAULT_CLAIMS = 800
CLAIMS_FROM = dt.date(2023, 1, 1)
REREGISTERED_SHARE = 0.03  # lapsed BPU members who joined again: two KPJ, one NON AKTIF

EMPLOYERS = {
    "lahat": ("PT BUKIT ASAM TBK", "PT PERKEBUNAN NUSANTARA VII", "PT SUMBER SUPRA ABADI", "RSUD LAHAT",
              "PT LAHAT MANDIRI SAWIT", "CV KARYA BERSAMA LAHAT", "KOPERASI UNIT DESA SEJAHTERA",
              "PT BANK SUMSEL BABEL"),
    "pali": ("PT PERTAMINA EP ASSET 2", "PT GOLDEN BLOSSOM SUMATRA", "PT PATRA NIAGA PENDOPO", "RSUD PALI",
             "CV PENUKAL JAYA", "PT SAWIT MAS PALI", "KOPERASI KARET ABAB LESTARI"),
    "lampung-barat": ("PT NESTLE INDONESIA KOPI LAMPUNG", "PTPN VII UNIT WAY BERULU", "RSUD ALIMUDDIN UMAR",
                      "CV KOPI LIWA MANDIRI", "PT BANK LAMPUNG", "KOPERASI PRODUSEN KOPI SEKINCAU"),
}
CONTRACTORS = ("CV BANGUN PERSADA", "CV MITRA KONSTRUKSI", "PT ADHI KARYA (PERSERO) TBK", "CV TUNAS KARYA",
               "CV SINAR JAYA KONTRAKTOR")


def _pick(rng: np.random.Generator, pool, n: int) -> np.ndarray:
    pool = np.asarray(pool, dtype=object)
    return pool[rng.integers(0, len(pool), n)]


def background_spec(rng: np.random.Generator, cfg: Config, plan: pd.DataFrame, desa_total: dict[str, int],
                    scale: float) -> pd.DataFrame:
    """Who the background members are: role, regency, residence district and home village."""
    parts = []
    for reg in cfg.regencies.values():
        villages = plan[plan["regency"] == reg.slug]
        if villages.empty:
            continue
        factor = scale * len(villages) / max(desa_total[reg.slug], 1)
        codes = villages["village_code"].to_numpy(dtype=object)
        districts = villages["district_code"].to_numpy(dtype=object)
        counts = {k: round(v * factor) for k, v in BACKGROUND.get(reg.slug, DEFAULT_BACKGROUND).items()}
        for role, count in counts.items():
            at = rng.integers(0, len(codes), count)
            parts.append(pd.DataFrame({"role": role, "regency": reg.slug, "home_village_code": codes[at],
                                       "residence_district_code": districts[at]}))
        per = PERANGKAT_PER_VILLAGE.get(reg.slug, 8)
        k = np.maximum(0, np.round(per * scale * rng.uniform(0.7, 1.3, len(codes)))).astype(np.int64)
        parts.append(pd.DataFrame({"role": "perangkat", "regency": reg.slug, "home_village_code": np.repeat(codes, k),
                                   "residence_district_code": np.repeat(districts, k)}))
        cmax = COHORT_MAX_PER_VILLAGE.get(reg.slug, 0)
        if cmax:
            k = np.round(rng.uniform(0, cmax, len(codes)) * scale).astype(np.int64)
            parts.append(pd.DataFrame({"role": "village_cohort", "regency": reg.slug,
                                       "home_village_code": np.repeat(codes, k),
                                       "residence_district_code": np.repeat(districts, k)}))
    return pd.concat(parts, ignore_index=True)


# role -> segment, programmes, who pays, share AKTIF on the snapshot, year registrations start
# (None: when the regency's programme started). Payers: "employer" (the regency's employers),
# "contractor", "mandiri" (the member), "village" (payer_village_code), "other" (another village or budget).
ROLE_RULES: dict[str, tuple[str, str, str, float, int | None]] = {
    "pu_employee": ("PU", "JKK, JKM, JHT, JP", "employer", 0.92, 2005),
    "bpu_self": ("BPU", "JKK, JKM", "mandiri", 0.55, 2016),
    "jakon": ("JAKON", "JKK, JKM", "contractor", 0.25, 2018),
    "pmi": ("PMI", "JKK, JKM, JHT", "mandiri", 0.6, 2019),
    "perangkat": ("PU", "JKK, JKM, JHT", "village", 0.97, 2017),
    "village_cohort": ("BPU", "JKK, JKM", "village", 0.8, None),
    # the records of proposed people (the membership value of their row class)
    "aktif_pu": ("PU", "JKK, JKM, JHT, JP", "employer", 1.0, 2005),
    "aktif_bpu_same_village": ("BPU", "JKK, JKM", "village", 1.0, None),
    "aktif_bpu_other_payer": ("BPU", "JKK, JKM", "other", 1.0, 2023),
    "non_aktif": ("BPU", "JKK, JKM", "mandiri", 0.0, 2015),
}


def _other_payers(rng, cfg, sel, regency, payer, payer_code, regency_villages) -> None:
    """Another village pays for most; a regency programme or a company's CSR for the rest.
    ``payer_code`` holds the proposing village on entry, so that it is never its own other payer."""
    by_budget = sel & (rng.random(len(sel)) < 0.3)
    for slug in np.unique(regency[sel]):
        at = by_budget & (regency == slug)
        name = cfg.regencies[slug].name.upper().replace("KABUPATEN ", "")
        payer[at] = _pick(rng, (f"PEMERINTAH KABUPATEN {name}", f"BAZNAS KABUPATEN {name}",
                                "CSR " + EMPLOYERS.get(slug, EMPLOYERS["lahat"])[0]), int(at.sum()))
        at = sel & ~by_budget & (regency == slug)
        pool = regency_villages[slug]
        cand = _pick(rng, pool, int(at.sum()))
        clash = cand == payer_code[at]
        cand[clash] = pool[(np.searchsorted(pool, cand[clash]) + 1) % len(pool)]
        payer_code[at] = cand
    payer_code[by_budget] = ""


def _month(day_numbers: np.ndarray) -> np.ndarray:
    y, m, _ = date_parts(day_numbers)
    return y * 12 + (m - 1)


def _month_text(months: np.ndarray) -> np.ndarray:
    y = pd.Series(months // 12).astype(str)
    m = pd.Series(months % 12 + 1).astype(str).str.zfill(2)
    return (y + "-" + m).to_numpy(dtype=object)


def _kpj(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique 11-digit card numbers."""
    got = np.array([], dtype=np.int64)
    while len(got) < n:
        got = np.unique(np.concatenate([got, rng.integers(10**10, 10**11, n + 100 - len(got))]))
    got = rng.permutation(got)[:n]
    return pd.Series(got).astype(str).to_numpy(dtype=object)


def membership(rng: np.random.Generator, cfg: Config, snapshot: dt.date, persons: pd.DataFrame,
               roles: pd.DataFrame, village_names: dict[str, str], regency_villages: dict[str, np.ndarray]
               ) -> pd.DataFrame:
    """Membership records. ``roles``: person (index into persons), role, regency, payer_village_code
    (for village-paid roles). One record per role row, plus a second, older record for re-registrations."""
    n = len(roles)
    role = roles["role"].to_numpy(dtype=object)
    regency = roles["regency"].to_numpy(dtype=object)
    snap = to_days(snapshot)
    snap_m = snapshot.year * 12 + snapshot.month - 1
    p = persons.iloc[roles["person"].to_numpy()]

    seg = np.empty(n, dtype=object)
    program = np.empty(n, dtype=object)
    payer = np.full(n, "", dtype=object)
    payer_code = roles["payer_village_code"].fillna("").to_numpy(dtype=object).copy()
    aktif_p = np.zeros(n)
    reg_from = np.zeros(n, dtype=np.int64)
    reg_to = np.full(n, snap - 30)
    small = rng.random(n) < 0.3  # small employers and many BPU members skip the pension programmes
    for name, (segment, programmes, payer_kind, share, since) in ROLE_RULES.items():
        sel = role == name
        if not sel.any():
            continue
        seg[sel], program[sel], aktif_p[sel] = segment, programmes, share
        if programmes == "JKK, JKM, JHT, JP" or name == "bpu_self":
            program[sel & small] = "JKK, JKM, JHT"
        if since is not None:
            reg_from[sel] = to_days(dt.date(since, 1, 1))
        else:  # joined when the regency's programme started
            for slug in np.unique(regency[sel]):
                at = sel & (regency == slug)
                reg_from[at] = to_days(min(q.start for q in cfg.regencies[slug].quota_steps))
                reg_to[at] = reg_from[at] + 60
        if payer_kind == "employer":
            for slug in np.unique(regency[sel]):
                at = sel & (regency == slug)
                payer[at] = _pick(rng, EMPLOYERS.get(slug, EMPLOYERS["lahat"]), int(at.sum()))
        elif payer_kind == "contractor":
            payer[sel] = _pick(rng, CONTRACTORS, int(sel.sum()))
        elif payer_kind == "mandiri":
            payer[sel] = "MANDIRI"
            if name == "non_aktif":
                # a former member may have left a construction job rather than stopped paying
                jak = sel & (rng.random(n) < 0.4)
                seg[jak] = "JAKON"
                payer[jak] = _pick(rng, CONTRACTORS, int(jak.sum()))
        elif payer_kind == "other":
            _other_payers(rng, cfg, sel, regency, payer, payer_code, regency_villages)
    reg_to[role == "non_aktif"] = snap - 400

    has_code = payer_code != ""
    payer[has_code] = ("PEMERINTAH DESA " + pd.Series(payer_code[has_code], dtype=object)
                       .map(village_names).str.upper()).to_numpy(dtype=object)

    birth = p["birth_date_days"].to_numpy()
    adult = birth + int(365.25 * 18)
    reg_from = np.maximum(reg_from, adult)
    reg_to = np.maximum(reg_to, reg_from + 1)
    registered = reg_from + np.floor(rng.random(n) * (reg_to - reg_from)).astype(np.int64)
    aktif = rng.random(n) < aktif_p
    # a card is closed only after three unpaid months, so a closed one is at least four months old
    registered = np.where(aktif, registered, np.minimum(registered, snap - 130))
    reg_m = _month(registered)
    lapse_hi = np.maximum(snap_m - 4, reg_m)
    last_inactive = reg_m + np.floor(rng.random(n) * (lapse_hi - reg_m + 1)).astype(np.int64)
    cohort_lapsed = (role == "village_cohort") & ~aktif
    # a village that stopped paying did so at the end of a budget year
    last_inactive[cohort_lapsed] = np.maximum(reg_m[cohort_lapsed], (snapshot.year - 1) * 12 + 11)
    last_inactive = np.minimum(last_inactive, snap_m - 4)
    last_paid = np.where(aktif, snap_m - (rng.random(n) < 0.7), last_inactive)

    out = pd.DataFrame({
        "person": roles["person"].to_numpy(),
        "role": role,
        "regency": regency,
        "branch": pd.Series(regency, dtype=object).map({s: r.branch for s, r in cfg.regencies.items()}).to_numpy(),
        "segment": seg,
        "program": program,
        "registered_days": registered,
        "status": np.where(aktif, "AKTIF", "NON AKTIF"),
        "last_paid_month": last_paid,
        "payer": payer,
        "payer_village_code": payer_code,
    })

    # lapsed self-paid members who joined again hold an older, closed card too
    again = np.flatnonzero((role == "bpu_self") & aktif & (rng.random(n) < REREGISTERED_SHARE / 0.55)
                           & (registered - reg_from > 400))
    if len(again):
        old = out.iloc[again].copy()
        old_reg = reg_from[again] + np.floor(rng.random(len(again)) * (registered[again] - 400 - reg_from[again])
                                             ).astype(np.int64)
        old["registered_days"] = old_reg
        old["status"] = "NON AKTIF"
        old["last_paid_month"] = np.minimum(_month(old_reg) + rng.integers(1, 10, len(again)),
                                            _month(registered[again]) - 4)
        old["role"] = "bpu_self_previous"
        out = pd.concat([out, old], ignore_index=True)
    out["kpj"] = _kpj(rng, len(out))
    return out


def claims(rng: np.random.Generator, cfg: Config, snapshot: dt.date, members: pd.DataFrame,
           persons: pd.DataFrame, pools: NamePools, factor: dict[str, float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Claims paid from ``CLAIMS_FROM`` to the snapshot. Members who died or drew their JHT are
    closed (NON AKTIF) in the returned membership. Returns (claims, members)."""
    members = members.copy()
    snap = to_days(snapshot)
    lo_day = to_days(CLAIMS_FROM)
    out = []
    for branch in cfg.branches:
        mb = members[members["branch"] == branch]
        if mb.empty:
            continue
        total = round(CLAIMS_PER_BRANCH.get(branch, DEFAULT_CLAIMS) * factor.get(branch, 1.0))
        aktif = mb[mb["status"] == "AKTIF"]
        single = ~mb["person"].duplicated(keep=False)
        background = mb["role"].isin(["pu_employee", "bpu_self", "jakon", "perangkat", "village_cohort"])
        closable = mb[single & background & (mb["status"] == "AKTIF")]

        n_jkm = min(int(total * 0.08), len(closable) // 3)
        n_jht = min(int(total * 0.15), len(closable) // 3)
        n_jkk = total - n_jkm - n_jht
        order = rng.permutation(len(closable))
        jkm_rows = closable.iloc[order[:n_jkm]]
        jht_pool = closable.iloc[order[n_jkm:]]
        jht_rows = jht_pool[jht_pool["segment"] == "PU"].iloc[:n_jht]
        aktif = aktif[~aktif.index.isin(jkm_rows.index.union(jht_rows.index))]
        jkk_rows = aktif.iloc[rng.integers(0, len(aktif), n_jkk)] if len(aktif) else aktif

        def fits(rows: pd.DataFrame, min_after: int) -> pd.DataFrame:
            return rows[np.maximum(lo_day, rows["registered_days"].to_numpy() + min_after) < snap - 7]

        def incident(rows: pd.DataFrame, min_after: int) -> np.ndarray:
            lo = np.maximum(lo_day, rows["registered_days"].to_numpy() + min_after)
            return lo + np.floor(rng.random(len(rows)) * (snap - 7 - lo)).astype(np.int64)

        jkk_rows, jkm_rows, jht_rows = fits(jkk_rows, 1), fits(jkm_rows, 90), fits(jht_rows, 365 * 3)

        def paid(inc: np.ndarray) -> np.ndarray:
            gap = np.clip(snap - inc, 1, 120)
            return inc + np.minimum(gap, 7 + np.floor(rng.random(len(inc)) * np.maximum(gap - 7, 0)).astype(np.int64))

        names = persons["name"].to_numpy(dtype=object)
        sexes = persons["sex"].to_numpy(dtype=object)

        inc = incident(jkk_rows, 1)
        amount = np.clip(np.exp(rng.normal(np.log(3.5e6), 1.1, len(jkk_rows))), 150_000, 250_000_000)
        out.append(pd.DataFrame({
            "member_index": jkk_rows.index.to_numpy(), "type": "JKK", "incident_days": inc, "paid_days": paid(inc),
            "amount": (np.round(amount / 100) * 100).astype(np.int64),
            "beneficiary": names[jkk_rows["person"].to_numpy()], "beneficiary_relation": "member",
        }))

        inc = incident(jkm_rows, 90)
        heir_male = sexes[jkm_rows["person"].to_numpy()] == "P"
        out.append(pd.DataFrame({
            "member_index": jkm_rows.index.to_numpy(), "type": "JKM", "incident_days": inc, "paid_days": paid(inc),
            "amount": np.int64(cfg.programme.jkm_death_benefit_idr),
            "beneficiary": draw_names(rng, pools, heir_male), "beneficiary_relation": "spouse",
        }))
        members.loc[jkm_rows.index, "status"] = "NON AKTIF"
        members.loc[jkm_rows.index, "last_paid_month"] = np.minimum(
            members.loc[jkm_rows.index, "last_paid_month"].to_numpy(), _month(inc))
        out.append(_scholarships(rng, pools, jkm_rows.index.to_numpy(), inc, snap))

        inc = incident(jht_rows, 365 * 3)
        amount = np.clip(np.exp(rng.normal(np.log(12e6), 0.9, len(jht_rows))), 1_000_000, 400_000_000)
        out.append(pd.DataFrame({
            "member_index": jht_rows.index.to_numpy(), "type": "JHT", "incident_days": inc, "paid_days": paid(inc),
            "amount": (np.round(amount / 100) * 100).astype(np.int64),
            "beneficiary": names[jht_rows["person"].to_numpy()], "beneficiary_relation": "member",
        }))
        members.loc[jht_rows.index, "status"] = "NON AKTIF"
        members.loc[jht_rows.index, "last_paid_month"] = np.minimum(
            members.loc[jht_rows.index, "last_paid_month"].to_numpy(), _month(inc) - 1)
    c = pd.concat(out, ignore_index=True)
    c["branch"] = members["branch"].to_numpy()[c["member_index"].to_numpy()]
    c = c.sort_values(["branch", "paid_days", "type", "member_index"], kind="stable").reset_index(drop=True)
    seq = c.groupby("branch").cumcount().to_numpy() + 1
    y, m, _ = date_parts(c["paid_days"].to_numpy())
    prefix = c["branch"].map({b: b.replace("-", "")[:3].upper() for b in cfg.branches})
    c["claim_no"] = (prefix + pd.Series(y).astype(str) + pd.Series(m).astype(str).str.zfill(2)
                     + pd.Series(seq).astype(str).str.zfill(6)).to_numpy(dtype=object)
    return c, members


# PP 82/2019 scholarship per child per year by school level
SCHOLARSHIP_BY_AGE = ((12, 1_500_000), (15, 2_000_000), (18, 3_000_000), (23, 12_000_000))


def _scholarships(rng: np.random.Generator, pools: NamePools, member_index: np.ndarray, death: np.ndarray,
                  snap: int) -> pd.DataFrame:
    """Yearly scholarship payments to up to two children of members who died."""
    n = len(member_index)
    with_kids = rng.random(n) < 0.6
    kids = np.where(with_kids, rng.integers(1, 3, n), 0)
    parent = np.repeat(np.arange(n), kids)
    child_age = rng.integers(4, 20, len(parent))
    child_name = draw_names(rng, pools, rng.random(len(parent)) < 0.5)
    death_y, _, _ = date_parts(death[parent])
    snap_y = date_parts(np.array([snap]))[0][0]
    years = (snap_y - death_y + 1).astype(np.int64)
    child = np.repeat(np.arange(len(parent)), years)
    k = np.arange(len(child)) - np.repeat(np.cumsum(years) - years, years)
    age = child_age[child] + k
    amount = np.select([age <= a for a, _ in SCHOLARSHIP_BY_AGE], [v for _, v in SCHOLARSHIP_BY_AGE], 0)
    first = death[parent][child] + 30 + rng.integers(0, 60, len(child))
    aug = (pd.Series(death_y[child] + k).astype(str) + "-08-01").to_numpy().astype("datetime64[D]").astype(np.int64)
    pay = np.where(k == 0, first, aug + rng.integers(0, 60, len(child)))
    keep = (amount > 0) & (pay <= snap)
    return pd.DataFrame({
        "member_index": member_index[parent][child][keep], "type": "BEASISWA",
        "incident_days": death[parent][child][keep], "paid_days": pay[keep],
        "amount": amount[keep].astype(np.int64), "beneficiary": child_name[child][keep],
        "beneficiary_relation": "child",
    })
