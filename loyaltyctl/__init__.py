"""loyaltyctl: run a B2B partner loyalty program from the command line."""

__version__ = "0.1.0"
