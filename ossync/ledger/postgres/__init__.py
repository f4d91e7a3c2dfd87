"""The PostgreSQL backend: one ledger shared by many hosts (`ledger: postgresql://…`).

`connect` turns the URL into a connection and driver errors into one clear line,
`base` keeps the connection (reconnecting after an outage), `ledger` opens,
migrates and claims with `FOR UPDATE SKIP LOCKED`, `migrations` is the schema.
Needs the `postgres` extra (psycopg 3).
"""
