"""The use cases the HTTP API, the interactions endpoint and the bot share.

Each public function is one use case over the caller's session: it checks the caller's scope
and the rules, changes the rows, re-plans the schedule and writes the outbox event, all in that
one session, so the caller only opens the transaction (``sessionmaker.begin()`` or the API's
per-request session) and commits it; a failure anywhere rolls everything back. The functions are
synchronous ORM code: FastAPI runs them in its threadpool, the async bot in worker threads.

``guild_scope`` is the internal id of the guild a caller may see (a guild token, or the guild a
button click came from), or None for an admin: anything outside it is NotFound, never Forbidden,
so a caller cannot even learn that it exists.
"""
