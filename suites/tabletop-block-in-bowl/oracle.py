"""Block-in-bowl oracle: per block, whether its centre lies within its own bowl's wall (seen from
above, as Ravens tests it), and whether every block does (the environment's success)."""


def facts(env) -> dict:
    inside = env.unwrapped.in_bowl()
    out = {f"{c}_in_bowl": bool(v) for c, v in zip(("red", "green", "blue"), inside)}
    out["all_blocks_placed"] = bool(inside.all())
    return out
