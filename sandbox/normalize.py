"""AST rewrites applied after the policy passes and before any compile.

Annotations are dropped so nothing in them is ever evaluated; `a[i] += v`
becomes `a[i] = a[i] + v`, which RestrictedPython accepts and numba compiles
the same way.
"""
import ast
import copy


class _Normalize(ast.NodeTransformer):
    def visit_FunctionDef(self, node):
        for arg in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
            arg.annotation = None
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node):
        return ast.copy_location(ast.Assign(targets=[node.target], value=self.visit(node.value)), node)

    def visit_AugAssign(self, node):
        if isinstance(node.target, ast.Subscript):
            load = copy.deepcopy(node.target)
            load.ctx = ast.Load()
            value = ast.BinOp(left=load, op=node.op, right=node.value)
            return ast.copy_location(ast.Assign(targets=[node.target], value=ast.copy_location(value, node)), node)
        self.generic_visit(node)
        return node


def normalize(tree: ast.Module) -> ast.Module:
    tree = _Normalize().visit(copy.deepcopy(tree))
    return ast.fix_missing_locations(tree)
