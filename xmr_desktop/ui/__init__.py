"""The desktop app's Qt widgets, models and workers (the core in engine/, library/ and search/ never imports Qt)."""
