"""One fact per sub-task: the assignment is one to one, keeps SUBTASKS' order, and names conflicts."""
import numpy as np

from carverify.stages.facts import Score, assign, conflicts, prf

FACTS = ("near_key", "has_key", "door_unlocked", "door_open", "at_goal")


def _scores(table: dict[str, dict[str, float]]) -> dict[str, dict[str, Score]]:
    return {name: {f: Score(row.get(f, 0.0), row.get(f, 0.0), row.get(f, 0.0)) for f in FACTS}
            for name, row in table.items()}


def test_a_check_copied_from_another_is_graded_against_its_own_fact():
    # door_open was copied from has_key: it agrees perfectly with has_key, which the old rule
    # ("whichever fact agrees best") graded it against.  It must get a door fact instead.
    scores = _scores({"has_key": {"has_key": 1.0, "door_unlocked": 0.5},
                      "door_open": {"has_key": 1.0, "door_unlocked": 0.55, "door_open": 0.5},
                      "at_goal": {"at_goal": 1.0}})
    got = assign(["has_key", "door_open", "at_goal"], FACTS, scores)
    assert got == {"has_key": "has_key", "door_open": "door_open", "at_goal": "at_goal"}
    clash = conflicts(["has_key", "door_open", "at_goal"], FACTS, scores, got, failing={"door_open"})
    assert clash == [("door_open", "has_key", "has_key")]


def test_assignment_is_strictly_increasing_and_pins_the_goal():
    scores = _scores({"a": {"at_goal": 1.0}, "b": {"at_goal": 1.0}, "c": {"near_key": 1.0}})
    got = assign(["a", "b", "c"], FACTS, scores)
    order = [FACTS.index(got[n]) for n in ("a", "b", "c")]
    assert order == sorted(order) and len(set(order)) == 3
    assert got["c"] == "at_goal"


def test_a_decomposition_may_name_the_finer_facts():
    scores = _scores({"near_key": {"near_key": 1.0}, "has_key": {"has_key": 1.0},
                      "door_unlocked": {"door_unlocked": 1.0, "door_open": 0.8},
                      "door_open": {"door_open": 1.0, "door_unlocked": 0.8}, "at_goal": {"at_goal": 1.0}})
    names = list(FACTS)
    assert assign(names, FACTS, scores) == {f: f for f in FACTS}


def test_ties_prefer_the_fact_named_like_the_sub_task():
    # On expert play unlocking a door also opens it: both facts score the same.
    scores = _scores({"has_key": {"has_key": 1.0}, "door_open": {"door_unlocked": 1.0, "door_open": 1.0},
                      "at_goal": {"at_goal": 1.0}})
    assert assign(["has_key", "door_open", "at_goal"], FACTS, scores)["door_open"] == "door_open"


def test_more_sub_tasks_than_facts_keeps_the_goal():
    scores = _scores({f"s{i}": {} for i in range(7)})
    got = assign([f"s{i}" for i in range(7)], FACTS, scores)
    assert got["s6"] == "at_goal" and len(set(got.values())) == len(got)


def test_prf_counts():
    pred = np.array([1, 1, 0, 0, 1], bool)
    truth = np.array([1, 0, 0, 1, 1], bool)
    p, r, f1 = prf(pred, truth)
    assert (p, r) == (2 / 3, 2 / 3) and abs(f1 - 2 / 3) < 1e-12
    assert prf(np.zeros(3, bool), np.zeros(3, bool)) == (1.0, 1.0, 1.0)


def test_a_sub_task_named_like_a_fact_is_graded_against_it():
    # "door_open" that really tests "unlocked" agrees perfectly with door_unlocked, yet is door_open.
    scores = _scores({"has_key": {"has_key": 1.0}, "door_open": {"door_unlocked": 1.0, "door_open": 0.7},
                      "at_goal": {"at_goal": 1.0}})
    assert assign(["has_key", "door_open", "at_goal"], FACTS, scores)["door_open"] == "door_open"


def test_names_out_of_order_fall_back_to_agreement():
    scores = _scores({"door_open": {"door_open": 1.0}, "has_key": {"has_key": 1.0}, "at_goal": {"at_goal": 1.0}})
    got = assign(["door_open", "has_key", "at_goal"], FACTS, scores)
    assert got["at_goal"] == "at_goal" and len(got) == 3


def test_compiled_check_wrong_on_a_plateau_is_compared_with_the_interpreter():
    """A compiled-only difference on a plateau (no transition changes the check's value there)
    is still compared: every state where the compiled check disagrees with its fact is."""
    import numpy as np

    from carverify.stages.coverage import compared_states

    n = 5000
    truth = np.zeros(n, bool)
    truth[:100] = True
    compiled = {"has_key": truth.copy()}
    compiled["has_key"][4300:4310] = True                  # wrong on a plateau: no edge below changes value
    edges = np.array([[i, i + 1] for i in range(0, n - 1, 2)])
    cov = type("Cov", (), {"facts": {"has_key": truth}, "edges": edges, "__len__": lambda self: n})()
    plain = compared_states(["has_key"], compiled, cov, sample=10)
    wrong = set(range(4300, 4310))
    assert not wrong <= set(plain)                          # the change edges and the sample miss them
    chosen = compared_states(["has_key"], compiled, cov, sample=10, assigned={"has_key": "has_key"})
    assert wrong <= set(chosen)
