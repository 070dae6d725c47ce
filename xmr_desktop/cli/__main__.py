"""``python -m xmr_desktop.cli`` is ``xmr``."""

import sys

from xmr_desktop.cli.main import main

sys.exit(main())
