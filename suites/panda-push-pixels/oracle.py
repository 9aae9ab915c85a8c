"""Push oracle: sub-task facts and the cube-target distance, read from the simulator."""
from carverify.envs.panda import oracle_facts


def facts(env) -> dict:
    # The cube is 4 cm wide: a gripper pushing it sits ~4.5 cm from its centre.
    return oracle_facts(env, reach=0.06, reach_height=0.05, near=0.10, tolerance=0.07)
