"""The Qt-free photo-library core: ``PhotoLibrary`` owns index, model, pipeline, searcher, watcher and concepts
for one data directory; the window and the ``xmr`` command are thin shells that send it typed commands
(``commands``) and listen to its typed events (``events``)."""
