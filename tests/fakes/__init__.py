"""Fakes of the outside world (Discord) for tests: local servers that record requests."""
