"""Test corpora: hostile reward programs (``attacks``) and correct ones (``correct/``)."""
