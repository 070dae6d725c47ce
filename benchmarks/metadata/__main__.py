"""``python -m benchmarks.metadata``: every metadata benchmark in turn (about 10 min on 2 quiet cores).

1. extraction per photo vs decoding the same photo, and a rescan's extra query (``extraction.py``);
2. the gazetteer: cache build, opening, GPS and name lookups (``places.py``);
3. filters at 100k and 1M photos, and reading queries (``filters.py``);
4. our date parser vs dateparser, when dateparser is importable (``dateparser_check.py``).
"""

from __future__ import annotations

import subprocess
import sys

from benchmarks.common import REPO, wait_for_quiet


def main() -> None:
    for module, args in (
        ("benchmarks.metadata.extraction", ["--photos", "48", "--repeats", "3", "--rows", "1000000"]),
        ("benchmarks.metadata.places", []),
        ("benchmarks.metadata.filters", []),
        ("benchmarks.metadata.dateparser_check", []),
    ):
        wait_for_quiet()
        print(f"$ python -m {module} {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, check=True)


if __name__ == "__main__":
    main()
