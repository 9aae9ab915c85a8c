"""Simulator-family code: what carverify knows about MiniGrid, Panda and other environments."""
