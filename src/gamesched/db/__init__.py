"""Data access: tables, migrations and the named queries the processes share."""
