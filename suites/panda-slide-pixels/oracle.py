"""Slide oracle: sub-task facts and the puck-target distance, read from the simulator."""
from carverify.envs.panda import oracle_facts


def facts(env) -> dict:
    # The puck is 6 cm wide: a gripper striking it touches at ~4 cm from its centre.
    return oracle_facts(env, reach=0.06, reach_height=0.05, near=0.10, tolerance=0.07)
