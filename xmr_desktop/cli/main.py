"""``xmr``'s entry point: parse, set up paths and logging, run the verb, turn errors into one line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

import xmr_desktop.cli.learn_commands as learn_commands
import xmr_desktop.cli.library_commands as library_commands
from xmr_desktop.cli.output import error
from xmr_desktop.cli.parser import build_parser
from xmr_desktop.config import Paths, resolve_paths
from xmr_desktop.errors import XmrError
from xmr_desktop.logs import setup_logging

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130

COMMANDS: dict[str, Callable[[argparse.Namespace, Paths], int]] = {
    "index": library_commands.cmd_index,
    "search": library_commands.cmd_search,
    "status": library_commands.cmd_status,
    "skipped": library_commands.cmd_skipped,
    "remove": library_commands.cmd_remove,
    "models": library_commands.cmd_models,
    "concept": library_commands.cmd_concept,
    "eval": learn_commands.cmd_eval,
    "finetune": learn_commands.cmd_finetune,
}


# Commands that may download or save a model; the others never touch the models folder.
_MODEL_COMMANDS = frozenset({"index", "eval", "finetune", "concept"})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        paths = resolve_paths(args.data_dir).ensure()
    except XmrError as problem:  # DataDirError: the folder cannot be created or written
        error(str(problem))
        return EXIT_ERROR
    setup_logging(paths.log_dir, verbosity=args.verbose)
    try:
        if args.command in _MODEL_COMMANDS:
            from xmr_desktop.engine.staging import clean_stale_staging

            clean_stale_staging(paths.models_dir)  # leftovers of downloads and saves whose process died
        return COMMANDS[args.command](args, paths)
    except XmrError as problem:
        error(str(problem))
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("xmr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `xmr search … | head`
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
