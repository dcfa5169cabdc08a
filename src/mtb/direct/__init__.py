"""Direct database reads for the hot paths: an applicant reading their application, a reviewer's queue
page, and the hospitals'
eligibility check at every settlement.

Why not the ORM session like everything else: at these request rates the cost is in the layers around
the query (a session, result processing, and on aiosqlite a thread hand-off per call, which
mtb/db/sqlite_loop.py now keeps only for the calls that can wait), not in the query. Here each hot read is
one hand-written statement (or a few on one connection) on a connection the event loop uses directly:
one in-loop `sqlite3` connection on SQLite (reads under WAL never wait for writers), a few asyncpg
connections on PostgreSQL. Only reads go this way; every write, and every read that is audited, stays on
the session.
"""
