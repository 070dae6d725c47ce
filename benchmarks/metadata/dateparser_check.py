"""Is ``dateparser`` worth its weight for the search box? Import time, first-call time and accuracy on our set.

Runs only where dateparser is importable (it is not a dependency): ``pip install --target /tmp/dp dateparser``
then ``PYTHONPATH=/tmp/dp python -m benchmarks.metadata.dateparser_check``. Accuracy: a phrase counts as right
when the tool finds a date exactly where we expect one (and the right period), and nothing where we expect none.
Our parser (``search.date_phrases``) runs on the same phrases in the same process.

Usage: python -m benchmarks.metadata.dateparser_check
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date, datetime

from xmr_desktop.search.understand import QueryReader

TODAY = date(2025, 3, 10)
# phrase -> (first day, last day) of the period meant, or None for "no date here"
CASES: dict[str, tuple[date, date] | None] = {
    "2023": (date(2023, 1, 1), date(2023, 12, 31)),
    "beach 2023": (date(2023, 1, 1), date(2023, 12, 31)),
    "July 2023": (date(2023, 7, 1), date(2023, 7, 31)),
    "summer 2022": (date(2022, 6, 1), date(2022, 8, 31)),
    "last year": (date(2024, 1, 1), date(2024, 12, 31)),
    "2023年7月": (date(2023, 7, 1), date(2023, 7, 31)),
    "去年夏天": (date(2024, 6, 1), date(2024, 8, 31)),
    "2023-07-14": (date(2023, 7, 14), date(2023, 7, 14)),
    "14 July 2023": (date(2023, 7, 14), date(2023, 7, 14)),
    "may 2023": (date(2023, 5, 1), date(2023, 5, 31)),
    "may the force": None,
    "march of the penguins": None,
    "1080p screenshot": None,
    "sunday market": None,
    "kids on a red slide": None,
    "2 dogs": None,
}


def _ours() -> tuple[int, float]:
    reader = QueryReader(today=TODAY)
    right = 0
    start = time.perf_counter()
    for text, expected in CASES.items():
        dates = [p for p in reader.read(text).parts if p.kind == "date"]
        if expected is None:
            right += not dates
        elif len(dates) == 1 and dates[0].filter.ranges:
            lo, hi = dates[0].filter.ranges[0]
            got = (datetime.utcfromtimestamp(lo).date(), datetime.utcfromtimestamp(hi - 1).date())  # type: ignore[arg-type]
            right += got == expected
    return right, (time.perf_counter() - start) / len(CASES)


def _theirs() -> dict[str, object] | None:
    code = r"""
import json, time, datetime
t = time.perf_counter()
from dateparser.search import search_dates
imported = time.perf_counter() - t
cases = json.loads(input())
settings = {"PREFER_DATES_FROM": "past", "RELATIVE_BASE": datetime.datetime(2025, 3, 10)}
t = time.perf_counter(); search_dates("warm up July 2023", settings=settings, languages=["en", "zh"]); first = time.perf_counter() - t
right, t = 0, time.perf_counter()
for text, expected in cases.items():
    found = search_dates(text, settings=settings, languages=["en", "zh"]) or []
    if expected is None:
        right += not found
    elif len(found) == 1:
        # dateparser returns a point, not a period: right only if it is the period's first day.
        right += found[0][1].date().isoformat() == expected[0]
print(json.dumps({"import_s": imported, "first_s": first, "right": right, "per_query_s": (time.perf_counter() - t) / len(cases)}))
"""
    cases = {k: None if v is None else [v[0].isoformat(), v[1].isoformat()] for k, v in CASES.items()}
    result = subprocess.run([sys.executable, "-c", code], input=json.dumps(cases), capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    def new_process(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    bare = min(new_process("pass") for _ in range(3))
    ours_import = min(new_process("import xmr_desktop.search.understand") for _ in range(3)) - bare
    right, per_query = _ours()
    print(f"{len(CASES)} phrases ({sum(v is None for v in CASES.values())} with no date)")
    print(f"ours:       {right}/{len(CASES)} right, {per_query * 1000:.2f} ms per phrase, "
          f"import {ours_import * 1000:.0f} ms (numpy and Pillow included; interpreter start subtracted)")
    theirs = _theirs()
    if theirs is None:
        print("dateparser: not importable here (see the module docstring)")
    else:
        print(f"dateparser: {theirs['right']}/{len(CASES)} right (a point counts if it is the period's first day), "
              f"{float(theirs['per_query_s']) * 1000:.2f} ms per phrase, import {float(theirs['import_s']) * 1000:.0f} ms, "
              f"first search {float(theirs['first_s']) * 1000:.0f} ms")
    print(json.dumps({"ours_right": right, "ours_ms": per_query * 1000, "dateparser": theirs, "cases": len(CASES)}))


if __name__ == "__main__":
    main()
