"""Item pipelines: archive -> normalise -> extract -> store. Each calls into the core in `monitor/`."""
