from tests.bot._helpers import engine

__all__ = ["engine"]
