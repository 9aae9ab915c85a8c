"""Block-in-box oracle: the block's centre within 0.15 m of the box's (horizontally), and inside the
box's walls seen from above (the environment's success)."""


def facts(env) -> dict:
    u = env.unwrapped
    return {"block_near_box": u.near_box(), "block_in_box": u.in_box()}
