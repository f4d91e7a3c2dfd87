"""Stage 2, intake: which files exist and whether they may be complete.

The watcher turns inotify events into paths, the scanner finds what events
missed (at start, periodically, after an overflow), `filters` says which names
are candidates, `openfiles` whether a local process still writes one, `media`
what the bytes are. Intake only notes sightings in the queue; it never uploads.
"""
