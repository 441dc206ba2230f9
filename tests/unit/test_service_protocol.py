"""The one protocol of the services: a plan as a value, its threshold and checksum, one result shape."""
import ast
import glob
import os

from ansible.module_utils.city.operate.masking import MASK
from ansible.module_utils.city.service.change import Change
from ansible.module_utils.city.service.plan import Plan, Threshold

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plan_of(*changes, managed=10):
    return Plan(list(changes), managed=managed, actions=("add", "delete"))


def test_counts_records_and_a_secret_never_in_them():
    plan = plan_of(Change("a", "add", None, {"password": "s3cret", "cn": "A"}),
                   Change("b", "delete", {"cn": "B"}, None, risky=True))
    assert plan.counts() == {"add": 1, "delete": 1} and plan.risky == 1
    assert plan.records()[0]["after"] == {"password": MASK, "cn": "A"}
    assert "s3cret" not in repr(plan.diff()) and "s3cret" not in plan.checksum()


def test_checksum_is_of_what_a_reviewer_sees():
    one = plan_of(Change("a", "add", None, ["a 3600 IN TXT \"x\""]))
    same = plan_of(Change("a", "add", None, ["a 3600 IN TXT \"x\""]), managed=99)
    other = plan_of(Change("a", "add", None, ["a 3600 IN TXT \"y\""]))
    assert one.checksum() == same.checksum() != other.checksum()
    assert one.checksum().startswith("sha256:")


def test_threshold_allows_a_few_then_refuses_a_share():
    few = plan_of(*[Change(str(i), "delete", risky=True) for i in range(5)], managed=6)
    many = plan_of(*[Change(str(i), "delete", risky=True) for i in range(6)], managed=20)
    threshold = Threshold(0.25, "record sets the registry owns")
    assert threshold.refusal(few) is None
    why = threshold.refusal(many)
    assert "6 of the 20 record sets the registry owns" in why and "force" in why


def test_every_module_is_a_declaration_over_the_base():
    """library/*.py: documentation, one import of a class of module_utils/city, main() calling it."""
    for path in sorted(glob.glob(os.path.join(ROOT, "library", "*.py"))):
        tree = ast.parse(open(path, encoding="utf-8").read())
        code = [n for n in tree.body if not (isinstance(n, ast.Assign) and n.targets[0].id in (
            "DOCUMENTATION", "EXAMPLES", "RETURN")) and not isinstance(n, ast.Expr)]
        imports = [n for n in code if isinstance(n, ast.ImportFrom) and n.module != "__future__"]
        assert len(imports) == 1 and imports[0].module.startswith("ansible.module_utils.city."), path
        functions = [n for n in code if isinstance(n, ast.FunctionDef)]
        assert [f.name for f in functions] == ["main"] and len(functions[0].body) == 1, path
