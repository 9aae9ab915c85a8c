"""Scripted Slide expert: line up behind the puck, strike it once towards the target, lift away."""
from carverify.panda import slide_action, state_vector


def act(env):
    return slide_action(state_vector(env))
