"""The ``xmr`` command: index folders and search them from a terminal or a script.

No Qt here, and TensorFlow is imported only by the commands that run a model in this process, so ``xmr
--help`` is instant and ``xmr search`` with the app running never imports it. Every failure the user can act
on ends as one line on stderr and a non-zero exit status.
"""

from xmr_desktop.cli.main import main

__all__ = ["main"]
