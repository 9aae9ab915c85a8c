"""Compatibility name: the compiled twin of an accepted program lives in carverify.deploy.compiled.

Training never calls these checks in its own process any more: carverify.deploy.guard
runs them in a reward worker process (see carverify/deploy/__init__.py).
"""
from carverify.deploy.compiled import checked_program, clear_cache, compile_accepted, compile_progress

__all__ = ["checked_program", "clear_cache", "compile_accepted", "compile_progress"]
