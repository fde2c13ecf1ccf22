"""pycontain: a lightweight Linux container engine and Python function sandbox."""

__version__ = "0.1.0"
