"""``python -m xmr_desktop`` starts the desktop app (this is also how briefcase launches the packaged app)."""

import sys

from xmr_desktop.app import main
from xmr_desktop.bundled import use_interpreter_for_children

# In the installed package sys.executable is briefcase's launcher, which cannot run a spawned child.
use_interpreter_for_children()
sys.exit(main())
