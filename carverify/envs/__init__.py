"""Environment adapters: the one place that knows a simulator family (carverify/envs/adapter.py).

Bundled: minigrid (MiniGrid), panda (panda-gym on PyBullet), gymnasium (any registered env id).
A user adapter subclasses EnvAdapter and defines ADAPTER in its module.
"""
from carverify.envs.adapter import EnvAdapter

__all__ = ["EnvAdapter"]
