"""perfsheriff: keeps watch over a software project's performance."""

__version__ = "0.1.0"
