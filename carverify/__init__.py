"""carverify: make reward code written by vision-language models safe, correct and fast."""

__version__ = "0.1.0"
