"""Panda coverage states: set directly in PyBullet, deterministic, every group, both sides of every threshold."""
from __future__ import annotations

import math

import numpy as np
import pytest

from carverify.envs import panda
from carverify.envs.panda_states import (GROUPS, _realise, _Scene, _Spec, coverage_states, measure_thresholds,
                                    restore)
from carverify.suite import load_suite

LAY = panda.STATE_LAYOUT
# The suites' documented thresholds (suite.toml descriptions), written out here so that the
# check below does not go through the oracle or the thresholds panda_states measures.
REACH, REACH_HEIGHT, NEAR, SUCCESS, TOLERANCE = 0.06, 0.05, 0.10, 0.05, 0.07


@pytest.fixture(scope="module", params=["panda-push", "panda-slide"])
def states(request):
    suite = load_suite(request.param)
    return suite, coverage_states(suite)        # the default n, as the coverage stage uses it


def parts(result, name):
    return result["state"][:, LAY[name]]


def test_at_least_n_states_in_every_group_with_the_documented_thresholds(states):
    suite, result = states
    summary = result["summary"]
    n = summary["states"]
    assert n >= 2000 and len(result["frames"]) == n == len(result["describe"]) == len(result["success"])
    assert result["frames"].shape == (n, panda.STATE_SIZE) and result["frames"].dtype == np.float64
    assert set(summary["groups"]) == set(GROUPS) and sum(summary["groups"].values()) == n
    for name, count in summary["groups"].items():
        assert count >= GROUPS[name][0] * 2000 and (result["group"] == name).sum() == count
    assert summary["thresholds"] == {"success": SUCCESS, "reach": REACH, "reach_height": REACH_HEIGHT,
                                     "near": NEAR, "tolerance": TOLERANCE}
    assert summary["thresholds_assumed"] == []
    assert "tipped over" in summary["left_out"]
    assert set(result["facts"]) == {"reached", "near_target", "at_target", "almost_at_target"}
    assert set(result["measures"]) == {"distance"}
    noun = "cube" if suite.name == "panda-push" else "puck"
    assert all(noun in text and "target" in text for text in result["describe"])


def test_oracle_facts_agree_with_an_independent_computation_from_the_positions(states):
    _, result = states
    ee, obj, target = (parts(result, k) for k in ("ee_position", "object_position", "target_position"))
    gap = np.linalg.norm(obj - target, axis=1)
    reached = (np.linalg.norm(ee[:, :2] - obj[:, :2], axis=1) < REACH) & (ee[:, 2] < REACH_HEIGHT)
    # The environment tests success on float32 positions.
    success = np.linalg.norm(obj.astype(np.float32) - target.astype(np.float32), axis=1) < SUCCESS
    np.testing.assert_array_equal(result["facts"]["reached"], reached)
    np.testing.assert_array_equal(result["facts"]["near_target"], gap < NEAR)
    np.testing.assert_array_equal(result["facts"]["almost_at_target"], gap < TOLERANCE)
    np.testing.assert_array_equal(result["facts"]["at_target"], success)
    np.testing.assert_array_equal(result["success"], success)
    np.testing.assert_allclose(result["measures"]["distance"], gap, rtol=0, atol=1e-12)
    # State suites: the frame is the state vector.
    np.testing.assert_array_equal(result["frames"], result["state"])


def test_facts_take_both_values_in_the_groups_meant_to_split_them(states):
    _, result = states
    facts, group = result["facts"], result["group"]
    for name, fact in [("reach_side", "reached"), ("reach_above", "reached"), ("target_table", "near_target"),
                       ("target_table", "at_target"), ("target_table", "almost_at_target"),
                       ("target_lifted", "near_target"), ("target_lifted", "at_target"),
                       ("moving", "reached"), ("moving", "near_target"), ("moving", "at_target")]:
        values = facts[fact][group == name]
        assert values.any() and not values.all(), (name, fact)


def test_gripper_straddles_the_reach_threshold_from_every_side(states):
    _, result = states
    ee, obj = parts(result, "ee_position"), parts(result, "object_position")
    side = result["group"] == "reach_side"
    offset = ee[:, :2] - obj[:, :2]
    apart = np.linalg.norm(offset, axis=1)
    angle = np.degrees(np.arctan2(offset[:, 1], offset[:, 0])) % 360
    low = ee[:, 2] < REACH_HEIGHT
    for centre in (0, 90, 180, 270):                       # +x, +y, -x, -y
        facing = side & (np.abs((angle - centre + 180) % 360 - 180) < 10)
        assert (facing & low & (apart < REACH) & (apart > REACH - 0.004)).any(), centre
        assert (facing & low & (apart > REACH) & (apart < REACH + 0.004)).any(), centre
        # Touching the object (the fingers meet a cube 3.1-4.4 cm out, a puck 4.0-5.2 cm).
        assert (facing & low & (apart < REACH - 0.005)).any(), centre
    # Heights just under and over the reach height, with the gripper horizontally in reach.
    close = (result["group"] != "random") & (apart < REACH)
    assert (close & (ee[:, 2] < REACH_HEIGHT) & (ee[:, 2] > REACH_HEIGHT - 0.004)).any()
    assert (close & (ee[:, 2] > REACH_HEIGHT) & (ee[:, 2] < REACH_HEIGHT + 0.004)).any()
    # From above: the gripper over the object's footprint.
    above = result["group"] == "reach_above"
    assert (above & (apart < 0.005)).any()


def test_three_d_distance_and_a_two_d_check_disagree_on_lifted_objects(states):
    suite, result = states
    obj, target = parts(result, "object_position"), parts(result, "target_position")
    flat = np.linalg.norm(obj[:, :2] - target[:, :2], axis=1)
    lifted = result["group"] == "target_lifted"
    rest = 0.02 if suite.name == "panda-push" else 0.015
    assert np.all(obj[lifted, 2] > rest + 0.004)
    for edge, fact in ((SUCCESS, "at_target"), (NEAR, "near_target"), (TOLERANCE, "almost_at_target")):
        assert (lifted & (flat < edge) & ~result["facts"][fact]).any(), fact   # 2-D says yes, 3-D no
        assert (lifted & result["facts"][fact]).any(), fact
    # Every distance threshold has states just inside and just outside it (3-D) on the table.
    table = result["group"] == "target_table"
    gap = result["measures"]["distance"]
    for edge in (SUCCESS, TOLERANCE, NEAR):
        assert (table & (gap < edge) & (gap > edge - 0.002)).any()
        assert (table & (gap > edge) & (gap < edge + 0.002)).any()


def test_moving_and_still_objects(states):
    _, result = states
    speed = np.linalg.norm(parts(result, "object_velocity"), axis=1)
    moving = result["group"] == "moving"
    assert np.all(speed[moving] > 0) and np.all(speed[~moving] == 0)
    assert speed[moving].min() < 0.005 and speed[moving].max() >= 0.99
    hand = np.linalg.norm(parts(result, "ee_velocity"), axis=1)
    assert (moving & (hand > 0)).any() and (moving & (hand == 0)).any() and np.all(hand[~moving] < 1e-9)
    assert any("moving" in result["describe"][i] for i in np.flatnonzero(moving))
    assert all(result["describe"][i].endswith("still") for i in np.flatnonzero(~moving))


def test_same_seed_same_states_other_seed_other_states():
    suite = load_suite("panda-push")
    first, again, other = (coverage_states(suite, n=60, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(first["frames"], again["frames"])
    for fact in first["facts"]:
        np.testing.assert_array_equal(first["facts"][fact], again["facts"][fact])
    np.testing.assert_array_equal(first["joints"], again["joints"])
    assert first["describe"] == again["describe"]
    assert first["summary"]["states"] >= 60 and set(first["summary"]["groups"]) == set(GROUPS)
    assert not np.array_equal(first["frames"], other["frames"])


def test_the_state_vector_shows_exactly_the_positions_set():
    suite = load_suite("panda-push")
    env = suite.make_env()
    try:
        env.reset(seed=0)
        scene = _Scene(env)
        rng = np.random.default_rng(0)
        done = 0
        while done < 20:
            obj = np.array([*rng.uniform(-0.15, 0.15, 2), rng.uniform(0.02, 0.06)])
            spec = _Spec(ee=[*rng.uniform([-0.2, -0.2], [0.1, 0.2]), rng.uniform(0.03, 0.2)], obj=obj,
                         target=[*rng.uniform(-0.15, 0.15, 2), 0.02], yaw=rng.uniform(-3, 3),
                         obj_velocity=[*rng.uniform(-0.5, 0.5, 2), 0.0], ee_velocity=rng.uniform(-0.2, 0.2, 3))
            if not _realise(scene, spec):
                continue          # out of the arm's reach or touching the object: draw another
            done += 1
            state = panda.state_vector(env)
            for name, wanted in (("ee_position", spec.ee), ("ee_velocity", spec.ee_velocity),
                                 ("object_position", spec.obj), ("object_velocity", spec.obj_velocity),
                                 ("target_position", spec.target)):
                np.testing.assert_allclose(state[LAY[name]], wanted, rtol=0, atol=1e-6, err_msg=name)
            # The gripper points down, as panda-gym's own control keeps it.  (Panda.get_ee_orientation
            # calls a method panda-gym 3.0.7's robot lacks: ask the simulation.)
            u = env.unwrapped
            turn = u.sim.get_link_orientation(u.robot.body_name, u.robot.ee_link)
            assert abs(abs(turn[0]) - 1.0) < 1e-6
            np.testing.assert_allclose(panda.object_target_distance(env), np.linalg.norm(spec.obj - spec.target))
    finally:
        env.close()


def test_thresholds_are_read_from_the_oracle_and_fall_back_when_it_lacks_a_fact():
    suite = load_suite("panda-slide")
    facts = suite.oracle()

    def tighter(env):                 # an oracle with other thresholds, and no reached fact
        values = facts(env)
        return {"near_target": values["distance"] < 0.08, "at_target": values["at_target"],
                "distance": values["distance"]}

    env = suite.make_env()
    try:
        env.reset(seed=0)
        found, assumed = measure_thresholds(_Scene(env), tighter)
    finally:
        env.close()
    assert abs(found["near"] - 0.08) < 1e-6 and found["success"] == SUCCESS
    assert sorted(assumed) == ["reach", "reach_height", "tolerance"]


@pytest.mark.parametrize("name", ["panda-push", "panda-slide-pixels"])
def test_restore_recreates_each_state_on_a_fresh_env(name):
    suite = load_suite(name)
    result = coverage_states(suite, n=30, seed=1)
    oracle = suite.oracle()
    env = suite.make_env()
    try:
        env.reset(seed=123)
        for i in range(0, result["summary"]["states"], 3):
            restore(env, result, i)
            np.testing.assert_allclose(panda.state_vector(env), result["state"][i], rtol=0, atol=1e-6)
            np.testing.assert_array_equal(suite.render(env), result["frames"][i])
            facts = oracle(env)
            assert {k: facts[k] for k in result["facts"]} == {k: bool(v[i]) for k, v in result["facts"].items()}
    finally:
        env.close()


@pytest.mark.parametrize("name,shape", [("panda-push-pixels", (64, 64, 3)), ("panda-slide-pixels", (96, 64, 3))])
def test_pixel_suites_smoke(name, shape):
    suite = load_suite(name)
    result = coverage_states(suite, n=40, seed=2)
    n = result["summary"]["states"]
    assert result["frames"].shape == (n, *shape) and result["frames"].dtype == np.uint8
    assert set(result["summary"]["groups"]) == set(GROUPS) and "outside the frame" in result["summary"]["left_out"]
    assert len({frame.tobytes() for frame in result["frames"]}) == n
    rgb = result["frames"].astype(int)
    green = ((rgb[..., 1] > 100) & (rgb[..., 1] > rgb[..., 0] + 60)).sum(axis=(1, 2))
    # The object is in view in every frame (the gripper may hide part of it from above).
    assert np.mean(green > 0) == 1.0
    assert result["facts"]["near_target"].any() and not result["facts"]["near_target"].all()
    assert math.isfinite(result["summary"]["seconds"])
