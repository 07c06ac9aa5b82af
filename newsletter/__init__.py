"""newsletter: write, build, preview, send and archive an association's newsletter."""

__version__ = "0.1.0"
