"""The database underneath every domain: the engine and sessions (engine.py), SQLite's statements on the event
loop (sqlite_loop.py) and its one-writer gate (sqlite_gate.py), and the migrations runner (migrate.py; the
migrations themselves are in mtb/migrations)."""
