"""Every ast node class of the running Python is explicitly allowed or rejected."""
import ast

from sandbox.policy import REJECTED, allowed_node_names


def _all_node_classes():
    return {name for name in dir(ast)
            if isinstance(getattr(ast, name), type) and issubclass(getattr(ast, name), ast.AST)}


def test_every_node_class_is_classified():
    allowed = allowed_node_names()
    unclassified = _all_node_classes() - allowed - set(REJECTED)
    assert not unclassified, f"classify these new ast nodes in sandbox/policy.py: {sorted(unclassified)}"


def test_no_node_is_both_allowed_and_rejected():
    assert not (allowed_node_names() & set(REJECTED))


def test_allowed_names_are_real_node_classes():
    # A typo in a visitor name would silently allow nothing; catch it.
    assert allowed_node_names() <= _all_node_classes()
