"""Separate-piles oracle: both red blocks' centres inside the red zone, both blue ones inside the blue
zone (seen from above), and both at once (the environment's success)."""


def facts(env) -> dict:
    inside = env.unwrapped.in_zone()
    return {"red_in_zone": bool(inside[:2].all()), "blue_in_zone": bool(inside[2:].all()),
            "piles_separated": bool(inside.all())}
