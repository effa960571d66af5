"""RentTheRunway ratings as per-user histories: rows, item texts, the user split and the evaluation protocol.

A target row may only show its item (`item_id, category, rented_for, size`) and the user's profile; its own
`fit, rating, review_date, recommend` are never features. History rows show their item text and their label.

    python -c "from stylist.data.rtr import *; r = load_ratings(); print(len(r), {k: len(v) for k, v in split_users(r).items()})"

History rows also show the renter's own `fit` report and `rating` (stars), which item statistics aggregate.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from stylist.core.errors import StylistError
from stylist.core.paths import shared_data
from stylist.core.ratings import PROFILE_NUMBERS, Rating
from stylist.data.splits import bucket

TEST_PERCENT = 25  # of the users who have both a liked and a not-liked row: ~3,400 of ratings-full.csv, SE ~0.8 point
VALID_PERCENT = 20  # of them again, for model selection (~2,700); every other user trains
FULL = "ratings-full.csv"  # the default file: 13x the users of ratings.csv (which it contains)


def _number(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        return math.nan
    return x if math.isfinite(x) else math.nan


def load_ratings(path: str | Path | None = None) -> list[Rating]:
    """Read a ratings CSV with the RentTheRunway columns (default: the shared `rtr/ratings-full.csv`)."""
    path = Path(path) if path else shared_data() / "rtr" / FULL
    if not path.is_file():
        raise StylistError(f"ratings file not found: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's BOM is not part of a name
            return _read_rows(path, csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise StylistError(f"{path}: not a readable CSV file ({exc.__class__.__name__}: {exc})") from exc


LIKED, NOT_LIKED = {"1", "1.0", "true", "yes", "y"}, {"0", "0.0", "false", "no", "n"}  # `recommend`, lower-cased


def _read_rows(path: Path, reader: csv.DictReader) -> list[Rating]:
    """Rows as `Rating`s; a row without a user, an item id or a readable `recommend` says nothing and is
    skipped, with a warning that counts them (`row` keeps file order). A missing label is not a dislike."""
    if not reader.fieldnames:
        raise StylistError(f"{path}: empty file (expected a header with user_id, item_id, category, recommend, review_date)")
    missing = {"user_id", "item_id", "category", "recommend", "review_date"} - set(reader.fieldnames)
    if missing:
        raise StylistError(f"{path}: missing columns {', '.join(sorted(missing))}")
    ratings, unlabelled = [], 0
    for i, row in enumerate(reader):
        if not (row["user_id"] or "").strip() or not (row["item_id"] or "").strip():
            continue
        label = (row["recommend"] or "").strip().lower()
        if label not in LIKED | NOT_LIKED:
            unlabelled += 1
            continue
        profile: dict[str, float | str] = {k: _number(row.get(k) or "") for k in PROFILE_NUMBERS}
        profile["body_type"] = (row.get("body_type") or "").strip()
        ratings.append(Rating(
            user=row["user_id"].strip(), item_id=row["item_id"].strip(), category=(row["category"] or "").strip(),
            rented_for=(row.get("rented_for") or "").strip(), size=(row.get("size") or "").strip(),
            liked=label in LIKED, date=(row["review_date"] or "").strip(),
            row=i, profile=profile, fit=(row.get("fit") or "").strip().lower(), rating=_number(row.get("rating") or ""),
        ))
    if unlabelled and not ratings:
        raise StylistError(f"{path}: no row has a recommend value of 1/0 (or yes/no, true/false)")
    if unlabelled:
        warnings.warn(f"{path}: {unlabelled} rows without a 1/0 recommend value were skipped", stacklevel=3)
    return ratings


def by_user(ratings: list[Rating]) -> dict[str, list[Rating]]:
    """Each user's rows, most recent first (file order breaks date ties)."""
    users: dict[str, list[Rating]] = defaultdict(list)
    for r in ratings:
        users[r.user].append(r)
    return {u: sorted(rows, key=lambda r: (r.date, r.row), reverse=True) for u, rows in users.items()}


def has_both(rows: list[Rating]) -> bool:
    return any(r.liked for r in rows) and not all(r.liked for r in rows)


def split_users(ratings: list[Rating]) -> dict[str, set[str]]:
    """Users by part. Test and valid are cut (sha1 of the user id) from the users with both labels, since
    only they can be evaluated; every other user is training data. Stable across machines and file subsets."""
    parts: dict[str, set[str]] = {"train": set(), "valid": set(), "test": set()}
    for user, rows in by_user(ratings).items():
        b = bucket(user) if has_both(rows) else 100
        parts["test" if b < TEST_PERCENT else "valid" if b < TEST_PERCENT + VALID_PERCENT else "train"].add(user)
    return parts


@dataclass
class Episode:
    """The evaluation unit: one user's latest liked and latest not-liked rows, and the rest as history."""

    user: str
    liked: Rating
    disliked: Rating
    history: list[Rating]


def episodes(ratings: list[Rating], users: set[str] | None = None) -> list[Episode]:
    """The protocol's episodes for every user (or those in `users`) with a liked and a not-liked row."""
    result = []
    for user, rows in sorted(by_user(ratings).items()):
        if (users is not None and user not in users) or not has_both(rows):
            continue
        pos = next(r for r in rows if r.liked)
        neg = next(r for r in rows if not r.liked)
        result.append(Episode(user, pos, neg, [r for r in rows if r is not pos and r is not neg]))
    return result
