"""`make plan-registry`: the registry's changes alone, in seconds (issue 14, item 4).

Against the loopback named and slapd of test_readonly_plan.py (its fixtures: the
servers hold the example registry, then the registry and the zone move apart), with
the server hosts unreachable: the registry's plan runs no role task, so it reaches
none of them. It must plan what the full plan plans for the registry's modules and
say at its top that it left the server configuration out.
"""
import json

from test_readonly_plan import full_plan, registry_part, run_plan, setup  # noqa: F401 (fixtures)


def test_registry_plan_plans_the_registry_and_names_what_it_left_out(setup, full_plan):  # noqa: F811
    proc, plan, markdown = run_plan(setup, "plan-registry", "registry")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "UNREACHABLE" not in output, "no server host is reached"
    assert plan["complete"] and not plan["errors"] and not plan["readonly"]
    assert [p["tag"] for p in plan["not_planned"]] == ["city_server"]
    assert registry_part(plan) and registry_part(plan) == registry_part(full_plan)
    assert {r["module"] for r in plan["changes"]} <= {"dns_zone", "mail_accounts", "mail_unused", "sms_blast"}
    head = markdown.split("## ", 1)[0]
    assert "Not planned here" in head and "**Server configuration**" in head
    assert "No changes." not in head
    for value in (setup["secrets"]["vault_dns_tsig_secret"], setup["secrets"]["vault_ldap_toolkit_password"]):
        assert value not in output + markdown + json.dumps(plan)
