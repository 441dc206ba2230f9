"""The example CI pipelines of examples/ci keep the promises of examples/ci/README.md.

Both files are parsed as YAML and read as GitLab or GitHub would: which jobs a
merge request and a merge to main run (their rules, `changes:` and `if:` evaluated),
what they call in the Makefile, where the vault passwords come from, how the apply is
serialized and that the audit trail is kept even when the apply fails. And the
promise of issue 11 (item 5): an unreviewed plan holds no power. A merge request's
plan is read-only (`make plan-readonly`), gets the plan password only, never the
apply one, runs on a runner without the servers' SSH key, and a merge request that
changes anything outside the registry is planned only after approval.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CI_DIR = os.path.join(ROOT, "examples", "ci")
GITLAB = os.path.join(CI_DIR, "gitlab-ci.yml")
GITHUB = os.path.join(CI_DIR, "github-actions.yml")
README = os.path.join(CI_DIR, "README.md")
MAKEFILE = os.path.join(ROOT, "Makefile")

TRAIL = "audit-trail.jsonl"
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|PRIVATE|_KEY$|VAULT_YML")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load(path):
    return yaml.safe_load(read(path))


def make_targets_called(commands):
    """(target, command) for every `make TARGET ...` in shell commands."""
    found = []
    for command in commands:
        for match in re.finditer(r"(?:^|[\s;&|(])make\s+([^\n;&|)]*)", command):
            words = [w for w in match.group(1).split() if "=" not in w and not w.startswith("-")]
            found.extend((w, command) for w in words)
    return found


def makefile_targets():
    targets = set()
    for line in read(MAKEFILE).splitlines():
        match = re.match(r"^([A-Za-z0-9_.%/-]+(?:[ \t]+[A-Za-z0-9_.%/-]+)*)[ \t]*::?(?!=)", line)
        if match:
            targets.update(match.group(1).split())
    return targets


def years(duration):
    """GitLab's expire_in in years (None for never)."""
    if str(duration).strip() == "never":
        return None
    number, unit = re.fullmatch(r"\s*(\d+)\s*([a-z]+?)s?\s*", str(duration)).groups()
    per_year = {"year": 1, "month": 12, "week": 52, "day": 365, "hr": 8760, "hour": 8760}[unit]
    return int(number) / per_year


# ------------------------------------------------------- running scripts ---

VAULT_PATH = "inventory/production/group_vars/all/vault.yml"
# Each value encrypted on its own with its vault id, as scripts/vault-file-check wants.
ENCRYPTED = ("vault_dns_transfer_secret: !vault |\n          $ANSIBLE_VAULT;1.2;AES256;plan\n          "
             + "6162636465666768" * 4 + "\nvault_dns_tsig_secret: !vault |\n          $ANSIBLE_VAULT;1.2;AES256;apply\n"
             "          " + "6162636465666768" * 4 + "\n")
WHOLE = "$ANSIBLE_VAULT;1.1;AES256\n" + "6162636465666768" * 4 + "\n"
PLAN_PASSWORD, APPLY_PASSWORD = "a-long-plan-vault-password", "a-long-apply-vault-password"

# passwords given to the job, vault file (None, "encrypted", "whole", "plain"),
# whether a plan-only job (plan, report) and the apply may go on
VAULT_CASES = {
    "no password": ({}, "encrypted", False, False),
    "plan password only": ({"ANSIBLE_VAULT_PASSWORD_PLAN": PLAN_PASSWORD}, "encrypted", True, False),
    "both passwords": ({"ANSIBLE_VAULT_PASSWORD_PLAN": PLAN_PASSWORD, "ANSIBLE_VAULT_PASSWORD_APPLY": APPLY_PASSWORD},
                       "encrypted", False, True),
    "plan and the old single password": ({"ANSIBLE_VAULT_PASSWORD_PLAN": PLAN_PASSWORD,
                                          "ANSIBLE_VAULT_PASSWORD": APPLY_PASSWORD}, "encrypted", False, False),
    "no vault file": ({"ANSIBLE_VAULT_PASSWORD_PLAN": PLAN_PASSWORD, "ANSIBLE_VAULT_PASSWORD_APPLY": APPLY_PASSWORD},
                      None, False, False),
    "vault file encrypted whole": ({"ANSIBLE_VAULT_PASSWORD_PLAN": PLAN_PASSWORD,
                                    "ANSIBLE_VAULT_PASSWORD_APPLY": APPLY_PASSWORD}, "whole", False, False),
    "plaintext vault file": ({"ANSIBLE_VAULT_PASSWORD_PLAN": PLAN_PASSWORD,
                              "ANSIBLE_VAULT_PASSWORD_APPLY": APPLY_PASSWORD}, "plain", False, False),
}
PASSWORD_NAMES = ("ANSIBLE_VAULT_PASSWORD_PLAN", "ANSIBLE_VAULT_PASSWORD_APPLY", "ANSIBLE_VAULT_PASSWORD")


def sandbox(path):
    """A checkout-like directory: git, the production inventory, the vault file check, a stub install-deps."""
    os.makedirs(os.path.join(path, os.path.dirname(VAULT_PATH)))
    os.makedirs(os.path.join(path, "scripts"))
    shutil.copy(os.path.join(ROOT, "scripts", "vault-file-check"), os.path.join(path, "scripts"))
    stub = os.path.join(path, "scripts", "install-deps.sh")
    with open(stub, "w") as f:
        f.write("#!/bin/sh\ntouch deps-installed\n")
    os.chmod(stub, 0o755)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def shell(script, cwd, env):
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)}
    full.update(env)
    return subprocess.run(["bash", "-e", "-c", script], cwd=str(cwd), env=full, capture_output=True,
                          text=True, timeout=60, check=False)


def artifact_holds(root, artifact_path, content):
    path = os.path.join(str(root), artifact_path)
    candidates = [path] if not artifact_path.endswith("/") else \
        [os.path.join(d, f) for d, _, files in os.walk(path) for f in files]
    return any(os.path.isfile(p) and open(p).read() == content for p in candidates)


def write_vault(tmp_path, kind):
    if kind is None:
        return None
    path = tmp_path / "vault-from-ci.yml"
    path.write_text({"encrypted": ENCRYPTED, "whole": WHOLE, "plain": "vault_dns_tsig_secret: plain\n"}[kind])
    return path


def check_vault_outcome(project, ok, expected):
    installed = os.path.join(str(project), VAULT_PATH)
    if expected:
        assert ok, "the job stopped with a password and an encrypted vault file"
        assert os.path.exists(os.path.join(str(project), "deps-installed"))
        assert os.stat(installed).st_mode & 0o077 == 0, "the vault file is readable by others"
    else:
        assert not ok, "the job went on"
        assert not os.path.exists(os.path.join(str(project), "deps-installed")), \
            "the job went on to install and run"


# ---------------------------------------------------------------- GitLab ---

GITLAB_KEYWORDS = {"default", "include", "stages", "variables", "workflow", "image", "services",
                   "cache", "before_script", "after_script", "spec"}


def merge(base, over):
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else value
    return out


def resolve(config, name):
    """A job with its `extends` merged in, as GitLab does (hashes deep, lists replaced)."""
    job = config[name]
    parents = job.get("extends", [])
    resolved = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        resolved = merge(resolved, resolve(config, parent))
    return merge(resolved, {k: v for k, v in job.items() if k != "extends"})


def gitlab_jobs():
    config = load(GITLAB)
    return {name: resolve(config, name) for name, job in config.items()
            if name not in GITLAB_KEYWORDS and not name.startswith(".") and isinstance(job, dict)}


def gitlab_commands(job, parts=("before_script", "script", "after_script")):
    return [line for part in parts for line in job.get(part, [])]


def gitlab_if(expression, context):
    """The `rules: if:` expressions used here: $VAR, "string", ==, !=, &&, ||."""
    def operand(text):
        text = text.strip()
        if re.fullmatch(r"\$\w+", text):
            return context.get(text[1:])
        if re.fullmatch(r'"[^"]*"', text):
            return text[1:-1]
        raise AssertionError("rules expression not understood by this test: %r" % expression)

    def clause(text):
        match = re.fullmatch(r"(.+?)(==|!=)(.+)", text)
        if match is None:
            return bool(operand(text))
        left, op, right = operand(match.group(1)), match.group(2), operand(match.group(3))
        return (left == right) == (op == "==")

    return any(all(clause(part) for part in alternative.split("&&"))
               for alternative in expression.split("||"))


def glob_regex(pattern):
    """GitLab's `changes:` glob (File.fnmatch with PATHNAME, DOTMATCH, EXTGLOB) as a regex."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:[^/]*/)*", i + 3
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            assert pattern[i] not in "[{", "glob not understood by this test: %r" % pattern
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def changes_match(changes, files):
    patterns = changes["paths"] if isinstance(changes, dict) else changes
    return any(glob_regex(p).match(f) for p in patterns for f in files)


def gitlab_rule(rules, context):
    """The `when` of the first rule that matches (never, on_success, manual...), or None."""
    for rule in rules:
        if "if" in rule and not gitlab_if(rule["if"], context):
            continue
        if "changes" in rule and not changes_match(rule["changes"], context.get("changed_files", [])):
            continue
        return rule.get("when", "on_success")
    return None


def gitlab_rules_pass(rules, context):
    return gitlab_rule(rules, context) not in (None, "never")


REGISTRY_CHANGE = ["inventory/registry/domain.yml", "inventory/registry/mail.yml"]
TOOLKIT_CHANGES = ["playbooks/plan.yml", "library/dns_zone.py", "roles/dns_server/tasks/main.yml",
                   "lookup_plugins/city_registry.py", "callback_plugins/apply_session.py", "Makefile",
                   "ansible.cfg", ".gitlab-ci.yml", "scripts/vault-client", "inventory/production/hosts.yml",
                   "module_utils/city/registry/loader.py", "bin/registry-validate", "schemas/domain.schema.json"]
MERGE_REQUEST = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_DEFAULT_BRANCH": "main", "CI_MERGE_REQUEST_IID": "7"}

GITLAB_CONTEXTS = {
    "merge request": dict(MERGE_REQUEST, changed_files=REGISTRY_CHANGE),
    "merge request changing the toolkit": dict(MERGE_REQUEST, changed_files=REGISTRY_CHANGE + ["playbooks/dns.yml"]),
    "push to main": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"},
    "push to a branch": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "change/dinkes",
                         "CI_DEFAULT_BRANCH": "main"},
    "manual run on main": {"CI_PIPELINE_SOURCE": "web", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"},
    "schedule on main": {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main",
                         "CI_DEFAULT_BRANCH": "main"},
}


def gitlab_pipeline(context):
    """{job: when} of the jobs a pipeline of this context runs (`manual` ones included)."""
    config = load(GITLAB)
    if "workflow" in config and not gitlab_rules_pass(config["workflow"]["rules"], context):
        return {}
    runs = {}
    for name, job in gitlab_jobs().items():
        assert "only" not in job and "except" not in job, "%s: use rules, not only/except" % name
        when = gitlab_rule(job["rules"], context) if "rules" in job else job.get("when", "on_success")
        if when not in (None, "never"):
            runs[name] = when
    return runs


def gitlab_runs(context_name):
    """Names of the jobs a pipeline of this kind runs."""
    return set(gitlab_pipeline(GITLAB_CONTEXTS[context_name]))


def gitlab_jobs_calling(target):
    return [name for name, job in gitlab_jobs().items()
            if any(t == target for t, _ in make_targets_called(gitlab_commands(job, ("script",))))]


def gitlab_job_calling(target):
    jobs = gitlab_jobs_calling(target)
    assert len(jobs) == 1, "expected one GitLab job running make %s, found %s" % (target, jobs)
    return jobs[0]


def gitlab_plan_jobs():
    jobs = gitlab_jobs_calling("plan-readonly")
    assert len(jobs) == 2, "a read-only plan job for each kind of merge request: %s" % jobs
    return jobs


def test_gitlab_pipelines_run_for_merge_requests_and_main_only():
    assert gitlab_runs("merge request")
    assert gitlab_runs("push to main")
    assert not gitlab_runs("push to a branch"), "a branch without merge request runs no pipeline"


def test_gitlab_merge_request_validates_and_plans_read_only_with_the_plan_attached():
    for context in ("merge request", "merge request changing the toolkit"):
        runs = gitlab_runs(context)
        assert gitlab_job_calling("validate") in runs
        planned = [name for name in gitlab_plan_jobs() if name in runs]
        assert len(planned) == 1, "%s: one plan, got %s" % (context, planned)
        artifacts = gitlab_jobs()[planned[0]]["artifacts"]
        assert "reports/plan.md" in artifacts["paths"]
        assert artifacts.get("expose_as"), "the plan is linked from the merge request (expose_as)"
        assert artifacts.get("when") == "always", "a failed plan keeps what it computed"
        assert not gitlab_jobs_calling("plan") or not set(gitlab_jobs_calling("plan")) & runs, \
            "a merge request never gets the full plan (it needs the apply's secrets)"
        assert gitlab_job_calling("site") not in runs


def test_gitlab_registry_change_is_planned_at_once():
    pipeline = gitlab_pipeline(GITLAB_CONTEXTS["merge request"])
    planned = [name for name in gitlab_plan_jobs() if name in pipeline]
    assert pipeline[planned[0]] == "on_success"
    assert not gitlab_jobs()[planned[0]].get("environment"), "no approval waited for"


@pytest.mark.parametrize("changed", TOOLKIT_CHANGES)
def test_gitlab_toolkit_change_is_planned_only_after_approval(changed):
    """Manual, in a protected environment (README: only the approvers may run it)."""
    context = dict(MERGE_REQUEST, changed_files=REGISTRY_CHANGE + [changed])
    pipeline = gitlab_pipeline(context)
    planned = [name for name in gitlab_plan_jobs() if name in pipeline]
    assert len(planned) == 1 and pipeline[planned[0]] == "manual", (changed, pipeline)
    job = gitlab_jobs()[planned[0]]
    environment = job.get("environment")
    assert isinstance(environment, dict) and environment.get("name") == "plan-review"
    assert environment.get("action", "start") == "start", "other actions skip the environment's approvals"
    assert job.get("allow_failure") is not True, "the pipeline waits for it (Pipelines must succeed)"
    assert gitlab_job_calling("site") not in pipeline


def test_gitlab_toolkit_paths_cover_every_file_outside_the_registry():
    """The `changes:` patterns name every top-level entry of this repository but the registry."""
    plan = next(n for n in gitlab_plan_jobs() if gitlab_jobs()[n]["rules"][0].get("when") == "never")
    patterns = gitlab_jobs()[plan]["rules"][0]["changes"]
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    assert files
    uncovered = [f for f in files if not f.startswith("inventory/registry/") and not changes_match(patterns, [f])]
    assert not uncovered, "outside the registry but not in .toolkit_paths: %s" % uncovered[:20]
    registry = [f for f in files if f.startswith("inventory/registry/")]
    assert registry and not [f for f in registry if changes_match(patterns, [f])]
    assert changes_match(patterns, [".gitlab-ci.yml"]) and changes_match(patterns, ["new_plugins/x.py"]) is False


def test_gitlab_automatic_plan_checks_the_changed_files_itself(tmp_path):
    """What the patterns miss (a new top-level directory) still stops the automatic plan."""
    plan = next(n for n in gitlab_plan_jobs() if gitlab_jobs()[n]["rules"][0].get("when") == "never")
    job = gitlab_jobs()[plan]
    guard = [c for c in gitlab_commands(job, ("script",)) if "registry-only-change" in c]
    assert guard and str(job.get("variables", {}).get("GIT_DEPTH")) == "0"
    repo = change_repo(tmp_path, {"new_plugins/x.py": "code"})
    shutil.copytree(os.path.join(ROOT, "scripts"), repo / "scripts", dirs_exist_ok=True)
    proc = shell(guard[0], repo, {"CI_MERGE_REQUEST_DIFF_BASE_SHA": "base"})
    assert proc.returncode != 0 and "new_plugins/x.py" in proc.stdout
    repo = change_repo(tmp_path / "ok", {"inventory/registry/domain.yml": "changed"})
    shutil.copytree(os.path.join(ROOT, "scripts"), repo / "scripts", dirs_exist_ok=True)
    assert shell(guard[0], repo, {"CI_MERGE_REQUEST_DIFF_BASE_SHA": "base"}).returncode == 0


def test_gitlab_main_applies_after_the_full_plan():
    config, runs = load(GITLAB), gitlab_runs("push to main")
    validate, apply = gitlab_job_calling("validate"), gitlab_job_calling("site")
    assert {validate, apply} <= runs
    assert not set(gitlab_plan_jobs()) & runs, "main gets no read-only plan: the apply plans everything"
    jobs, stages = gitlab_jobs(), config["stages"]
    assert stages.index(jobs[validate]["stage"]) < stages.index(jobs[apply]["stage"])
    script = gitlab_commands(jobs[apply], ("script",))
    targets = [t for t, _ in make_targets_called(script)]
    assert targets == ["plan", "site"], "the full plan, then the apply: %s" % targets
    assert {"reports/plan.md", "audit/audit-trail.jsonl"} <= set(jobs[apply]["artifacts"]["paths"])


@pytest.mark.parametrize("context", sorted(set(GITLAB_CONTEXTS) - {"push to main"}))
def test_gitlab_apply_runs_only_after_a_merge_to_the_default_branch(context):
    name = gitlab_job_calling("site")
    assert name not in gitlab_runs(context)
    # Even if the workflow rules are widened later (a nightly plan...), the job's own rules hold.
    rules = gitlab_jobs()[name].get("rules")
    assert rules and not gitlab_rules_pass(rules, GITLAB_CONTEXTS[context])


def test_gitlab_apply_is_serialized_protected_and_fails_the_pipeline():
    name = gitlab_job_calling("site")
    job = gitlab_jobs()[name]
    assert job.get("resource_group"), "one apply at a time: resource_group"
    environment = job.get("environment")
    assert (environment.get("name") if isinstance(environment, dict) else environment) == "production"
    assert job.get("interruptible") is not True, "a newer pipeline must not cancel an apply"
    assert job.get("allow_failure") is not True, "a failed apply fails the pipeline"
    assert job.get("tags"), "the apply runs on the control node's tagged self-hosted runner"
    for command in gitlab_commands(job, ("before_script", "script")):
        assert not re.search(r"\|\|\s*(true|:)\s*$", command, re.M), "an error is swallowed: %r" % command


def test_gitlab_unreviewed_plans_run_where_no_ssh_key_is():
    jobs = gitlab_jobs()
    apply_tags = set(jobs[gitlab_job_calling("site")]["tags"])
    for name in gitlab_plan_jobs():
        tags = set(jobs[name]["tags"])
        assert tags and not tags & apply_tags, "%s runs on the control node's runner (SSH keys)" % name
    assert "city-plan" in read(README) and "no SSH key" in read(README)


def test_gitlab_apply_keeps_the_audit_trail_even_when_it_fails(tmp_path):
    job = gitlab_jobs()[gitlab_job_calling("site")]
    artifacts = job["artifacts"]
    assert artifacts.get("when") == "always"
    expiry = years(artifacts.get("expire_in", "30 days"))
    assert expiry is None or expiry >= 1, "the trail is kept a long time"
    # after_script runs after a failed script too: run it as the runner would, with
    # the trail in the default state/ and in a CITY_STATE_DIR of the runner.
    after = "\n".join(job.get("after_script", []))
    for state_dir in (None, tmp_path / "persistent"):
        project = sandbox(tmp_path / ("default" if state_dir is None else "custom"))
        trail_dir = project / "state" if state_dir is None else state_dir
        trail_dir.mkdir(parents=True)
        (trail_dir / TRAIL).write_text('{"record": 1}\n')
        env = {"CI_PROJECT_DIR": str(project)}
        if state_dir is not None:
            env["CITY_STATE_DIR"] = str(state_dir)
        assert shell(after, project, env).returncode == 0
        assert any(artifact_holds(project, p, '{"record": 1}\n') for p in artifacts["paths"]), \
            "the trail (%s) is not in the artifacts %s" % (trail_dir, artifacts["paths"])


def variables_blocks(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "variables" and isinstance(value, dict):
                yield value
            yield from variables_blocks(value)
    elif isinstance(node, list):
        for item in node:
            yield from variables_blocks(item)


PASSWORD_USE = re.compile(r"\$\{?ANSIBLE_VAULT_PASSWORD\w*")
PASSWORD_TEST = re.compile(r'\[ -[zn] "\$\{ANSIBLE_VAULT_PASSWORD\w*:-\}" \]')


def test_gitlab_vault_passwords_only_from_ci_variables():
    for block in variables_blocks(load(GITLAB)):
        for key in block:
            assert not SECRET_NAME.search(key), "%s is set in the file: it belongs in the CI/CD variables" % key
    for name, job in gitlab_jobs().items():
        for command in gitlab_commands(job):
            assert not re.search(r"\bANSIBLE_VAULT_PASSWORD\w*=", command), "%s sets a vault password" % name
            for line in command.splitlines():
                assert len(PASSWORD_USE.findall(line)) == len(PASSWORD_TEST.findall(line)), \
                    "%s uses a vault password other than to test it is set: %r" % (name, line)
    apply = gitlab_jobs()[gitlab_job_calling("site")]
    assert any("ANSIBLE_VAULT_PASSWORD_APPLY" in c for c in gitlab_commands(apply)), \
        "the apply checks the vault passwords are there before it starts"


def gitlab_before(job, password_env, vault_file, project):
    env = dict(password_env)
    if vault_file is not None:
        env["CITY_VAULT_FILE"] = str(vault_file)
    return shell("\n".join(job.get("before_script", [])), project, env).returncode == 0


@pytest.mark.parametrize("kind", ["plan-readonly", "report", "site"])
@pytest.mark.parametrize("case", sorted(VAULT_CASES))
def test_gitlab_production_jobs_get_exactly_their_passwords_and_an_encrypted_vault(tmp_path, kind, case):
    """A plan or a report goes on with the plan password alone, never beside the apply one."""
    names = gitlab_plan_jobs() if kind == "plan-readonly" else [gitlab_job_calling(kind)]
    passwords, vault, plan_ok, apply_ok = VAULT_CASES[case]
    for name in names:
        job = gitlab_jobs()[name]
        project = sandbox(tmp_path / name)
        ok = gitlab_before(job, passwords, write_vault(tmp_path, vault), project)
        check_vault_outcome(project, ok, apply_ok if kind == "site" else plan_ok)
        # after_script leaves no copy of the vault file behind (a tracked one stays).
        assert shell("\n".join(job.get("after_script", [])), project, {}).returncode == 0
        assert not os.path.exists(os.path.join(str(project), VAULT_PATH))


# ---------------------------------------------------------------- GitHub ---

class Context:
    """A GitHub expression context: attribute access, None for what is missing."""

    def __init__(self, value):
        self.value = value

    def __getattr__(self, key):
        value = self.value.get(key) if isinstance(self.value, dict) else None
        return Context(value) if value is None or isinstance(value, dict) else value

    def __eq__(self, other):
        return isinstance(other, Context) and self.value == other.value

    def __bool__(self):
        return bool(self.value)


def github_expression(expression, github, value=False, **contexts):
    """The value of an expression (``value``) or whether it holds."""
    text = str(expression).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    text = text.replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"!(?!=)", " not ", text)
    names = {"github": Context(github), "vars": Context(contexts.get("vars", {})),
             "needs": Context(contexts.get("needs", {})),
             "secrets": Context({}), "format": lambda f, *a: f.format(*a),
             "always": lambda: True, "success": lambda: True, "failure": lambda: False}
    result = eval(text, {"__builtins__": {}}, names)  # noqa: S307 (our own file, no builtins)
    return result if value else bool(result)


REPOSITORY = "kota/registry"


def pull_request(head_repo):
    return {"event_name": "pull_request", "ref": "refs/pull/7/merge", "repository": REPOSITORY,
            "event": {"pull_request": {"number": 7, "head": {"repo": {"full_name": head_repo}}},
                      "repository": {"default_branch": "main"}}}


def event(name, branch):
    return {"event_name": name, "ref": "refs/heads/" + branch, "repository": REPOSITORY,
            "event": {"repository": {"default_branch": "main"}}}


GITHUB_CONTEXTS = {
    "pull request": pull_request(REPOSITORY),
    "pull request from a fork": pull_request("someone/registry"),
    "push to main": event("push", "main"),
    "push to a branch": event("push", "change/dinkes"),
    "manual run on main": event("workflow_dispatch", "main"),
    "schedule on main": event("schedule", "main"),
}


def workflow():
    data = load(GITHUB)
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def github_runs(context_name):
    data, github = workflow(), GITHUB_CONTEXTS[context_name]
    triggers = data["on"]
    triggers = {t: None for t in ([triggers] if isinstance(triggers, str) else triggers)} \
        if not isinstance(triggers, dict) else triggers
    if github["event_name"] not in triggers:
        return set()
    branches = (triggers[github["event_name"]] or {}).get("branches")
    branch = "main" if github["event_name"] == "pull_request" else github["ref"].split("/", 2)[2]
    if branches is not None and branch not in branches:
        return set()
    jobs = data["jobs"]

    def runs_job(name):
        job = jobs[name]
        needs = job.get("needs", [])
        if not all(runs_job(n) for n in ([needs] if isinstance(needs, str) else needs)):
            return False
        return "if" not in job or github_expression(job["if"], github)

    return {name for name in jobs if runs_job(name)}


def github_steps_running(target):
    found = [(name, step) for name, job in workflow()["jobs"].items() for step in job["steps"]
             if any(t == target for t, _ in make_targets_called([step.get("run", "")]))]
    assert len(found) == 1, "expected one GitHub step running make %s, found %d" % (target, len(found))
    return found[0]


def uploads(job):
    return [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]


def changes_job():
    """The job whose output says whether a pull request changes more than the registry."""
    data = workflow()
    plan, _ = github_steps_running("plan-readonly")
    needs = data["jobs"][plan]["needs"]
    found = [n for n in ([needs] if isinstance(needs, str) else needs)
             if "toolkit" in data["jobs"][n].get("outputs", {})]
    assert len(found) == 1, "the plan needs the job that lists the changed files"
    return found[0]


def plan_environment(toolkit):
    plan, _ = github_steps_running("plan-readonly")
    expression = workflow()["jobs"][plan]["environment"]
    return github_expression(expression, GITHUB_CONTEXTS["pull request"], value=True,
                             needs={changes_job(): {"outputs": {"toolkit": toolkit}}})


def test_github_triggers_are_pull_requests_and_pushes_to_main():
    triggers = workflow()["on"]
    assert "pull_request_target" not in triggers, "pull_request_target runs a PR's code with the secrets"
    assert github_runs("pull request") and github_runs("push to main")
    assert not github_runs("push to a branch")


def test_github_pull_request_validates_and_plans_read_only_with_the_plan_attached():
    runs = github_runs("pull request")
    validate, _ = github_steps_running("validate")
    plan, plan_step = github_steps_running("plan-readonly")
    assert {validate, plan} <= runs
    apply, _ = github_steps_running("site")
    assert apply not in runs
    job = workflow()["jobs"][plan]
    steps = job["steps"]
    after = steps[steps.index(plan_step) + 1:]
    kept = [s for s in uploads(job) if "reports/plan.md" in s["with"]["path"]]
    assert kept and "always()" in kept[0].get("if", ""), "the plan is uploaded, also after a failure"
    assert any("GITHUB_STEP_SUMMARY" in s.get("run", "") and "reports/plan.md" in s["run"] for s in after), \
        "the plan is shown on the run's summary page"
    full, _ = github_steps_running("plan")
    assert full != plan and full not in runs, "a pull request never gets the full plan"


def test_github_toolkit_change_is_planned_only_after_approval():
    """The environment plan-review has required reviewers (README); plan has none."""
    assert plan_environment("false") == "plan"
    assert plan_environment("true") == "plan-review"
    assert plan_environment(None) == "plan-review", "no answer is not a registry-only change"
    readme = read(README)
    assert "`plan-review`: required reviewers" in readme


def test_github_changes_job_lists_the_files_outside_the_registry(tmp_path):
    data = workflow()
    name = changes_job()
    job = data["jobs"][name]
    assert "self-hosted" not in str(job["runs-on"]), "no secret, no server: a hosted runner"
    checkout = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")][0]
    assert checkout["with"]["fetch-depth"] == 0
    step = [s for s in job["steps"] if "registry-only-change" in s.get("run", "")][0]
    for files, expected in (({"inventory/registry/domain.yml": "x"}, "toolkit=false"),
                            ({"inventory/registry/domain.yml": "x", "library/dns_zone.py": "x"}, "toolkit=true"),
                            ({"new_plugins/x.py": "x"}, "toolkit=true")):
        repo = change_repo(tmp_path / str(len(list(tmp_path.iterdir()))), files)
        shutil.copytree(os.path.join(ROOT, "scripts"), repo / "scripts", dirs_exist_ok=True)
        output = repo / "github-output"
        proc = shell(step["run"], repo, {"BASE_SHA": "base", "GITHUB_OUTPUT": str(output)})
        assert proc.returncode == 0 and output.read_text().strip() == expected, (files, proc.stdout, proc.stderr)
    # A comparison that cannot be made fails the job: the plan (which needs it) does not run.
    repo = change_repo(tmp_path / "broken", {"inventory/registry/domain.yml": "x"})
    shutil.copytree(os.path.join(ROOT, "scripts"), repo / "scripts", dirs_exist_ok=True)
    proc = shell(step["run"], repo, {"BASE_SHA": "0" * 40, "GITHUB_OUTPUT": str(repo / "out")})
    assert proc.returncode != 0


def test_github_fork_pull_request_gets_no_plan():
    plan, _ = github_steps_running("plan-readonly")
    assert plan not in github_runs("pull request from a fork"), "a fork's code must not run on the control node"


def test_github_main_applies_after_the_full_plan():
    data = workflow()
    plan, _ = github_steps_running("plan-readonly")
    apply, site = github_steps_running("site")
    full, full_step = github_steps_running("plan")
    runs = github_runs("push to main")
    assert apply in runs and plan not in runs
    assert full == apply, "the full plan is a step of the apply job"
    steps = data["jobs"][apply]["steps"]
    assert steps.index(full_step) < steps.index(site)
    kept = [s for s in uploads(data["jobs"][apply]) if "reports/plan.md" in s["with"]["path"]]
    assert kept and "always()" in kept[0].get("if", "")
    validate, _ = github_steps_running("validate")
    needs = data["jobs"][apply].get("needs", [])
    assert validate in ([needs] if isinstance(needs, str) else needs)


@pytest.mark.parametrize("context", sorted(set(GITHUB_CONTEXTS) - {"push to main"}))
def test_github_apply_runs_only_after_a_merge_to_the_default_branch(context):
    apply, _ = github_steps_running("site")
    assert apply not in github_runs(context)
    # Even if the triggers are widened later, the job's own condition holds.
    assert not github_expression(workflow()["jobs"][apply]["if"], GITHUB_CONTEXTS[context])


def test_github_apply_is_serialized_protected_and_fails_the_run():
    data = workflow()
    apply, step = github_steps_running("site")
    job = data["jobs"][apply]
    concurrency = job.get("concurrency")
    assert isinstance(concurrency, dict) and concurrency.get("group"), "one apply at a time: concurrency"
    assert concurrency.get("cancel-in-progress") is False, "an apply is never cancelled half-way"
    top = data.get("concurrency")
    if isinstance(top, dict) and "cancel-in-progress" in top:
        assert not github_expression(top["cancel-in-progress"], GITHUB_CONTEXTS["push to main"]), \
            "the workflow's concurrency would cancel a run on main"
    environment = job.get("environment")
    assert (environment.get("name") if isinstance(environment, dict) else environment) == "production"
    assert "self-hosted" in job["runs-on"], "the apply runs on the control node's self-hosted runner"
    assert not step.get("continue-on-error") and not job.get("continue-on-error"), \
        "a failed apply fails the run"
    assert not re.search(r"\|\|\s*(true|:)\s*$", step["run"], re.M)


def test_github_unreviewed_plans_run_where_no_ssh_key_is():
    data = workflow()
    plan, _ = github_steps_running("plan-readonly")
    apply, _ = github_steps_running("site")
    labels = set(data["jobs"][plan]["runs-on"]) - {"self-hosted", "linux"}
    assert labels and not labels & set(data["jobs"][apply]["runs-on"]), "the plan runs beside the SSH keys"


def test_github_apply_keeps_the_audit_trail_even_when_it_fails(tmp_path):
    apply, site = github_steps_running("site")
    job = workflow()["jobs"][apply]
    kept = [s for s in uploads(job) if TRAIL in s["with"]["path"]]
    assert kept, "the audit trail is uploaded"
    upload = kept[0]
    assert "always()" in upload.get("if", "")
    assert int(upload["with"].get("retention-days", 0)) >= 90, "the trail is kept a long time"
    # The steps between the apply and the upload run as after a failed apply.
    steps = job["steps"][job["steps"].index(site) + 1:job["steps"].index(upload)]
    for state_dir in (None, tmp_path / "persistent"):
        workspace = sandbox(tmp_path / ("default" if state_dir is None else "custom"))
        trail_dir = workspace / "state" if state_dir is None else state_dir
        trail_dir.mkdir(parents=True)
        (trail_dir / TRAIL).write_text('{"record": 1}\n')
        env = {"GITHUB_WORKSPACE": str(workspace)}
        if state_dir is not None:
            env["CITY_STATE_DIR"] = str(state_dir)
        for step in steps:
            if "run" in step and "always()" in step.get("if", ""):
                assert shell(step["run"], workspace, env).returncode == 0
        assert artifact_holds(workspace, upload["with"]["path"].strip(), '{"record": 1}\n'), \
            "the trail (%s) is not at %s" % (trail_dir, upload["with"]["path"])


def github_step_env(job, step, secrets):
    env = {}
    for key, value in {**job.get("env", {}), **step.get("env", {})}.items():
        value = re.sub(r"\$\{\{\s*secrets\.(\w+)\s*\}\}", lambda m: secrets.get(m.group(1), ""), str(value))
        env[key] = re.sub(r"\$\{\{.*?\}\}", "x", value)
    return env


@pytest.mark.parametrize("target", ["plan-readonly", "site"])
@pytest.mark.parametrize("case", sorted(VAULT_CASES))
def test_github_production_jobs_get_exactly_their_passwords_and_an_encrypted_vault(tmp_path, target, case):
    """The secrets an environment could hand over: the job takes what it names, no more."""
    name, make_step = github_steps_running(target)
    job = workflow()["jobs"][name]
    passwords, vault, plan_ok, apply_ok = VAULT_CASES[case]
    vault_file = write_vault(tmp_path, vault)
    project = sandbox(tmp_path / "project")
    secrets = dict(passwords)
    if vault_file is not None:
        secrets["CITY_VAULT_YML"] = vault_file.read_text()
    ok = True
    for step in job["steps"][:job["steps"].index(make_step)]:
        if "run" in step and step["run"].strip().split()[0] != "make":
            env = github_step_env(job, step, secrets)
            # A password the runner's environment would add is refused as well.
            env.update({k: v for k, v in passwords.items() if k == "ANSIBLE_VAULT_PASSWORD"})
            if shell(step["run"], project, env).returncode != 0:
                ok = False
                break
    if target == "plan-readonly":
        # The job names the plan password only: given the apply one, it never sees it...
        assert "ANSIBLE_VAULT_PASSWORD_APPLY" not in str(job.get("env", {}))
        expected = bool(passwords.get("ANSIBLE_VAULT_PASSWORD_PLAN")) and vault == "encrypted" \
            and "ANSIBLE_VAULT_PASSWORD" not in passwords
    else:
        expected = apply_ok
    check_vault_outcome(project, ok, expected)


def env_blocks(data):
    yield "workflow", data.get("env", {})
    for name, job in data["jobs"].items():
        yield name, job.get("env", {})
        for step in job["steps"]:
            yield name, step.get("env", {})


def test_github_vault_passwords_only_from_secrets():
    data = workflow()
    assert not any(n in data.get("env", {}) for n in PASSWORD_NAMES), "only the jobs that need one get it"
    for where, env in env_blocks(data):
        for key, value in env.items():
            if SECRET_NAME.search(key):
                assert value == "" or re.fullmatch(r"\$\{\{\s*secrets\.\w+\s*\}\}", str(value)), \
                    "%s: %s is not a secret reference" % (where, key)
            assert not ("ANSIBLE_VAULT_PASSWORD_APPLY" in str(value) and where != github_steps_running("site")[0]), \
                "%s gets the apply password" % where
    apply, _ = github_steps_running("site")
    for name in ("ANSIBLE_VAULT_PASSWORD_PLAN", "ANSIBLE_VAULT_PASSWORD_APPLY"):
        assert re.fullmatch(r"\$\{\{\s*secrets\.%s\s*\}\}" % name, data["jobs"][apply]["env"][name])
    plan, _ = github_steps_running("plan-readonly")
    assert set(data["jobs"][plan]["env"]) & set(PASSWORD_NAMES) == {"ANSIBLE_VAULT_PASSWORD_PLAN"}
    for name, job in data["jobs"].items():
        for step in job["steps"]:
            run = step.get("run", "")
            assert "${{" not in run, "%s: an expression in a run: script (pass it through env:)" % name
            for line in run.splitlines():
                assert len(PASSWORD_USE.findall(line)) == len(PASSWORD_TEST.findall(line)), line


def test_github_actions_are_pinned():
    for line in read(GITHUB).splitlines():
        match = re.search(r"uses:\s*([\w.-]+/[\w./-]+)@(\S+)(.*)", line)
        if match:
            ref, rest = match.group(2), match.group(3)
            assert re.fullmatch(r"[0-9a-f]{40}", ref) and re.search(r"#\s*v\d", rest) \
                or re.fullmatch(r"v\d+(\.\d+)*", ref), "pin %s to a commit (with its version) or a version" % line


# ---------------------------------------------------------------- both ---

def change_repo(path, files):
    """A git repository: a commit `base` with the registry and some toolkit files, then ``files`` changed."""
    path.mkdir(parents=True, exist_ok=True)

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=path,
                       check=True, capture_output=True, timeout=60)
    git("init", "-q")
    for name in ("inventory/registry/domain.yml", "library/dns_zone.py", "README.md"):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text("first\n")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    git("branch", "base")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text + "\n")
    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", "change")
    return path


def registry_only_change(repo, *args):
    return subprocess.run([os.path.join(ROOT, "scripts", "registry-only-change"), *args], cwd=repo,
                          capture_output=True, text=True, timeout=60, check=False)


def test_registry_only_change_lists_every_file_outside_the_registry(tmp_path):
    repo = change_repo(tmp_path / "registry", {"inventory/registry/domain.yml": "second"})
    assert registry_only_change(repo, "base").returncode == 0
    repo = change_repo(tmp_path / "code", {"inventory/registry/domain.yml": "second", "library/dns_zone.py": "x",
                                           "Makefile": "x", ".gitlab-ci.yml": "x"})
    proc = registry_only_change(repo, "base")
    assert proc.returncode == 1
    assert sorted(proc.stdout.split()) == [".gitlab-ci.yml", "Makefile", "library/dns_zone.py"]
    # A file moved out of the registry counts where it lands.
    repo = change_repo(tmp_path / "moved", {})
    (repo / "playbooks").mkdir()
    subprocess.run(["git", "mv", "inventory/registry/domain.yml", "playbooks/domain.yml"], cwd=repo, check=True,
                   capture_output=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "mv"],
                   cwd=repo, check=True, capture_output=True)
    assert registry_only_change(repo, "base").stdout.split() == ["playbooks/domain.yml"]
    # A base that is not there (a shallow clone) is not a registry-only change.
    assert registry_only_change(repo, "0" * 40).returncode == 2
    assert registry_only_change(repo).returncode == 2


def test_yamllint_strict_passes():
    proc = subprocess.run([sys.executable, "-m", "yamllint", "--strict", "-c", os.path.join(ROOT, ".yamllint"),
                           CI_DIR], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def readme_code():
    text = read(README)
    return re.findall(r"```[^\n]*\n(.*?)```", text, re.S) + re.findall(r"`([^`\n]+)`", text)


def test_every_make_target_called_exists_in_the_makefile():
    commands = readme_code()
    commands += [c for job in gitlab_jobs().values() for c in gitlab_commands(job)]
    commands += [s.get("run", "") for job in workflow()["jobs"].values() for s in job["steps"]]
    called = make_targets_called(commands)
    assert called
    missing = sorted({t for t, _ in called} - makefile_targets())
    assert not missing, "make targets called by examples/ci but not in the Makefile: %s" % ", ".join(missing)


def test_no_plan_or_apply_against_the_lab():
    """make site with the default inventory would bring up the podman lab on the runner."""
    commands = [c for job in gitlab_jobs().values() for c in gitlab_commands(job)]
    commands += [s.get("run", "") for job in workflow()["jobs"].values() for s in job["steps"]]
    for target, command in make_targets_called(commands):
        if target in ("plan", "plan-readonly", "site", "report"):
            assert "INVENTORY=inventory/production" in command, command


def test_readme_documents_every_secret_variable_and_runner_label():
    readme = read(README)
    gitlab, github = read(GITLAB), read(GITHUB)
    names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):-", gitlab + github))
    names |= set(re.findall(r"\b(?:secrets|vars)\.([A-Z][A-Z0-9_]*)", github))
    names -= {n for n in names if n.startswith(("CI_", "GITLAB_", "GITHUB_"))}
    assert names
    labels = {tag for job in gitlab_jobs().values() for tag in job.get("tags", [])}
    for job in workflow()["jobs"].values():
        if isinstance(job["runs-on"], list):
            labels |= set(job["runs-on"]) - {"self-hosted", "linux"}
    undocumented = sorted(n for n in names | labels if n not in readme)
    assert not undocumented, "examples/ci/README.md does not explain: %s" % ", ".join(undocumented)


REGISTRY_HOSTS = ("pypi", "pythonhosted", "debian.org", "npmjs", "docker.io", "ghcr.io", "quay.io",
                  "golang.org", "crates.io", "rubygems", "galaxy.ansible")
HOST_NAME = re.compile(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\."
                       r"(?:com|org|net|io|dev|gov|edu|app|cloud|info|local|(?:go|ac|co|or|web|my|sch|desa)\.id)\b",
                       re.I)


@pytest.mark.parametrize("path", [GITLAB, GITHUB, README], ids=os.path.basename)
def test_no_host_name_secret_or_machine_path(path):
    text = read(path)
    lowered = text.lower()
    for host in REGISTRY_HOSTS:
        assert host not in lowered, "%s names a package registry (%s)" % (path, host)
    assert "://" not in text, "no URL: the CI's own URLs come from its predefined variables"
    assert not HOST_NAME.findall(text), "host names: %s" % HOST_NAME.findall(text)
    for pattern in (r"-----BEGIN", r"\$ANSIBLE_VAULT;\d", r"\b(glpat|ghp|gho|ghs|github_pat)_[A-Za-z0-9_]{10,}",
                    r"\bAKIA[0-9A-Z]{16}\b", r"(?i)\b(password|passwd|token|secret)\s*[:=]\s*['\"]?[A-Za-z0-9+/]{8,}"):
        assert not re.search(pattern, text), "%s looks like it holds a secret (%s)" % (path, pattern)
    for line in text.splitlines():
        if re.search(r"uses:\s*\S+@[0-9a-f]{40}\b", line):
            continue  # a pinned action's commit
        for token in re.findall(r"[A-Za-z0-9+/=_-]{32,}", line):
            assert not (re.search(r"\d", token) and re.search(r"[A-Za-z]", token)), \
                "%s: %r looks like a key or a token" % (path, token)
    if path != README:
        assert not re.search(r"(?<![\w.$}-])/(home|root|srv|opt|var|etc|mnt|media)/", text), \
            "%s names a path of a machine: set it in the runner's configuration" % path
