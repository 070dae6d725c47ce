"""Typed errors the core raises; the CLI and the GUI turn them into one clear message each."""


class XmrError(Exception):
    """A problem the user can act on; ``str(error)`` is a complete one-line message."""


class ModelUnavailableError(XmrError):
    """The requested model is neither on disk nor downloadable right now."""


class ModelLoadError(XmrError):
    """Model files exist but cannot be loaded (wrong format, damaged, unsupported architecture)."""


class IndexCorruptError(XmrError):
    """The index database cannot be read or fails its integrity check."""


class IndexTooNewError(XmrError):
    """The index was written by a newer xmr_desktop with a schema this version does not know."""


class UnknownFolderError(XmrError):
    """A folder was named that is not among the indexed folders."""


class QueryError(XmrError):
    """A search query that cannot be understood (empty, bad weight, missing query image)."""


class IndexBusyError(XmrError):
    """Another process holds the index's write lock for longer than we wait (SQLite "database is locked")."""


class DiskFullError(XmrError):
    """The disk holding the index (or its journal) is full; nothing was written."""


class FolderOverlapError(XmrError):
    """A folder was added that lies inside one already indexed (each photo has one owning folder)."""


class ModelIntegrityError(ModelUnavailableError):
    """Downloaded model files differ from the checksums they must have; nothing of them was kept."""


class DataDirError(XmrError):
    """The data, cache, log or settings folder cannot be created or written (read-only disk, no permission)."""
