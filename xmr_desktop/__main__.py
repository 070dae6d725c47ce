"""``python -m xmr_desktop`` starts the desktop app (this is also how briefcase launches the packaged app)."""

import sys

from xmr_desktop.app import main

sys.exit(main())
