"""Scripted Push expert: get behind the cube from above, push it along the line to the target."""
from carverify.panda import push_action, state_vector


def act(env):
    return push_action(state_vector(env))
