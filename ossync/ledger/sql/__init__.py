"""The statements both SQL backends share, written once.

Written with `?` and `:name` placeholders (SQLite's); the PostgreSQL backend
translates them. Each backend supplies the connection (`SqlBase`) and overrides
only what its engine does differently (claims under `FOR UPDATE SKIP LOCKED`,
the change counter, migrations).
"""
