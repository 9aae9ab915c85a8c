"""Frames as text: what the pixels show must be what the simulator holds."""
import numpy as np
import pytest

from carverify.envs.minigrid_text import minigrid_text, read_grid
from carverify.envs.panda_text import panda_text

MINIGRID = [("MiniGrid-DoorKey-5x5-v0", 8), ("MiniGrid-DoorKey-8x8-v0", 8), ("MiniGrid-Unlock-v0", 8),
            ("MiniGrid-UnlockPickup-v0", 8)]


def _truth(env, r, c):
    """(kind, colour, door state, agent direction) of tile (row r, column c) from the simulator."""
    u = env.unwrapped
    obj = u.grid.get(c, r)
    kind, color, state = "floor", None, None
    if obj is not None:
        kind = obj.type
        color = None if kind in ("wall", "lava") else obj.color
        if kind == "door":
            state = "locked" if obj.is_locked else ("open" if obj.is_open else "closed")
    agent = int(u.agent_dir) if tuple(u.agent_pos) == (c, r) else None
    return kind, color, state, agent


@pytest.mark.parametrize("env_id,tile", MINIGRID)
def test_minigrid_grid_read_from_pixels_matches_the_simulator(env_id, tile):
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the envs)

    env = gym.make(env_id)
    rng = np.random.default_rng(0)
    checked = 0
    for seed in range(3):
        env.reset(seed=seed)
        for step in range(40):
            frame = env.unwrapped.get_frame(highlight=True, tile_size=tile)
            grid = read_grid(frame, tile)
            for r, row in enumerate(grid):
                for c, t in enumerate(row):
                    assert (t.kind, t.color, t.state, t.agent) == _truth(env, r, c), (seed, step, r, c)
                    checked += 1
            # pick up / toggle often, so keys vanish and doors open during the walk
            _, _, done, trunc, _ = env.step(int(rng.choice([0, 1, 2, 2, 3, 5])))
            if done or trunc:
                break
    assert checked > 1000


def test_minigrid_text_names_the_objects_and_the_agent():
    import gymnasium as gym
    import minigrid  # noqa: F401

    env = gym.make("MiniGrid-DoorKey-5x5-v0")
    env.reset(seed=0)
    text = minigrid_text(env.unwrapped.get_frame(highlight=True, tile_size=8), 8)
    u = env.unwrapped
    col, row = u.agent_pos
    assert f"the agent (red triangle) at row {row}, column {col}, facing " \
           f"{('east', 'south', 'west', 'north')[u.agent_dir]}" in text
    assert "yellow key at row" in text and "yellow door (locked) at row" in text and "green goal at row" in text
    assert "Highlighted tiles" in text


@pytest.mark.parametrize("suite_name", ["panda-push-pixels", "panda-slide-pixels"])
def test_panda_cube_target_distance_read_from_pixels(suite_name):
    from carverify.episodes import expert_episodes_for
    from carverify.envs.panda import frame_settings
    from carverify.suite import load_suite

    suite = load_suite(suite_name)
    mpp = frame_settings(suite)["span"] / frame_settings(suite)["width"]
    episode = expert_episodes_for(suite, [suite.config["episodes"]["expert_seeds"][0]])[0]
    true = episode.measures["distance"]
    compared = 0
    for t in range(0, len(episode.frames), 3):
        text = panda_text(episode.frames[t], mpp)
        if "cube centre to target centre" not in text:
            continue  # the cube covers the target
        metres = float(text.rsplit("about ", 1)[1].split(" m")[0])
        # A centroid of a few shaded pixels: within 1.5 cm of the simulator's distance.
        assert abs(metres - true[t]) < 0.015, (t, metres, true[t])
        compared += 1
    assert compared >= 3
    assert "green cube: centre at row" in panda_text(episode.frames[0], mpp)


def test_a_suite_of_another_kind_gets_its_colours_in_words():
    """A user's own RGB environment (no reading of its own): the generic colour summary."""
    from carverify.generate.frames_text import colour_text, frame_text

    frame = np.zeros((20, 30, 3), np.uint8)
    frame[5:10, 20:30] = (200, 40, 40)        # 50 red pixels in the upper right

    class Generic:
        from carverify.envs.adapter import EnvAdapter
        adapter = EnvAdapter()

    text = frame_text(Generic(), frame)
    assert text == colour_text(frame)
    assert text.splitlines() == [
        "20x30 pixels (row 0 at the top, column 0 at the left); its main colours (RGB):",
        "- (0, 0, 0) (black): 91.7% of the pixels, rows 0-19, columns 0-29, centre at row 9.7, column 13.6",
        "- (200, 40, 40) (red): 8.3% of the pixels, rows 5-9, columns 20-29, centre at row 7.0, column 24.5"]


@pytest.mark.parametrize("rgb, name", [
    ((131, 131, 131), "(grey)"), ((227, 227, 227), "(white)"), ((10, 10, 12), "(black)"),
    ((255, 0, 0), "(red)"), ((23, 215, 23), "(green)"), ((23, 59, 215), "(blue)"), ((255, 255, 0), "(yellow)"),
    ((112, 39, 195), "(purple)"),
    # the tabletop bowls: pale tints on their walls, shaded floors
    ((227, 148, 148), "(pale red)"), ((148, 215, 148), "(pale green)"), ((148, 171, 233), "(pale blue)"),
    ((145, 94, 94), "(dull red)"), ((60, 20, 20), "(dark red)"),
])
def test_colours_are_named_so_a_list_of_them_is_not_read_in_order(rgb, name):
    from carverify.generate.frames_text import colour_name

    assert colour_name(rgb) == name


@pytest.mark.parametrize("rgb, name", [
    ((30, 5, 5), "(black)"), ((0, 0, 35), "(black)"),   # too dark for any hue to show
    ((float("nan"), 0, 0), "(not a number)"), ((230,), "(white)"), ((90,), "(grey)"),
])
def test_colour_names_at_the_edges(rgb, name):
    from carverify.generate.frames_text import colour_name

    assert colour_name(rgb) == name


@pytest.mark.parametrize("shape, space", [
    ((6, 8), "grey level"), ((6, 8, 1), "grey level"), ((6, 8, 4), "RGB; its alpha channel left out"),
    ((6, 8, 2), "the first of its 2 channels, read as grey"),
])
def test_frames_of_other_channel_counts_are_read_not_refused(shape, space):
    """A user's own suite may render grey levels or RGBA: the reading names what it read."""
    from carverify.generate.frames_text import colour_text

    frame = np.full(shape, 40, np.uint8)
    frame[2:4, 0:4] = 220                       # 8 of 48 pixels bright; an RGBA frame's alpha is 220 too
    lines = colour_text(frame).splitlines()
    assert lines[0].endswith(f"its main colours ({space}):")
    rgba = len(shape) == 3 and shape[2] == 4
    dim, bright = ("(40, 40, 40)", "(220, 220, 220)") if rgba else ("40", "220")
    assert lines[1].startswith(f"- {dim} (grey): 83.3% of the pixels, rows 0-5, columns 0-7")
    assert lines[2] == f"- {bright} (white): 16.7% of the pixels, rows 2-3, columns 0-3, centre at row 2.5, column 1.5"


def test_a_frame_that_is_not_an_image_is_a_plain_error():
    from carverify.generate.frames_text import colour_text

    from carverify.errors import UsageError

    for shape in ((5,), (4, 4, 0), (0, 3, 3), (2, 2, 2, 2)):
        with pytest.raises(UsageError, match=r"height x width .*got shape \(" + ", ".join(map(str, shape))):
            colour_text(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("frame, first", [
    # floats in [0, 1]: shown as the program sees them, named on the 8-bit scale
    (np.tile(np.array([0.0, 0.8, 0.9]), (10, 10, 1)), "- (0.0, 0.8, 0.9) (cyan): 100.0%"),
    # a boolean mask: True is drawn, so it is white, not black
    (np.eye(10, dtype=bool)[:, ::-1] | np.eye(10, dtype=bool), "- False (black): 80.0%"),
    # channels first, as torch renders: read as the 8x6 image it is
    (np.full((3, 8, 6), 200, np.uint8), "- (200, 200, 200) (grey): 100.0% of the pixels, rows 0-7, columns 0-5"),
    # NaN pixels are one entry, not one per pixel
    (np.full((20, 20, 3), np.nan), "- (-1.0, -1.0, -1.0) (not a colour): 100.0%"),
])
def test_frames_of_other_types_are_read_as_the_program_sees_them(frame, first):
    from carverify.generate.frames_text import colour_text

    lines = colour_text(frame).splitlines()
    assert lines[1].startswith(first)
    if frame.dtype == bool:
        assert lines[2].startswith("- True (white): 20.0%")
