"""gamesched: a self-hosted Discord game-night scheduler."""

__version__ = "0.1.0"
