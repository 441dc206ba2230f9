"""The example CI pipelines of examples/ci keep the promises of examples/ci/README.md.

Both files are parsed as YAML and read as GitLab or GitHub would: which jobs a
merge request and a merge to main run (their rules and `if:` evaluated), what they
call in the Makefile, where the vault password comes from, how the apply is
serialized and that the audit trail is kept even when the apply fails.
"""
import os
import re
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
ENCRYPTED = "$ANSIBLE_VAULT;1.1;AES256\n" + "6162636465666768" * 4 + "\n"

# password, vault file (None, "encrypted", "plain"), whether the job may go on
VAULT_CASES = {
    "no password": ("", "encrypted", False),
    "no vault file": ("a-long-vault-password", None, False),
    "plaintext vault file": ("a-long-vault-password", "plain", False),
    "password and encrypted vault file": ("a-long-vault-password", "encrypted", True),
}


def sandbox(path):
    """A checkout-like directory: git, the production inventory, a stub install-deps."""
    os.makedirs(os.path.join(path, os.path.dirname(VAULT_PATH)))
    os.makedirs(os.path.join(path, "scripts"))
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
    path.write_text(ENCRYPTED if kind == "encrypted" else "vault_dns_tsig_secret: plain\n")
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


def gitlab_rules_pass(rules, context):
    for rule in rules:
        if "if" not in rule or gitlab_if(rule["if"], context):
            return rule.get("when", "on_success") != "never"
    return False


GITLAB_CONTEXTS = {
    "merge request": {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_DEFAULT_BRANCH": "main",
                      "CI_MERGE_REQUEST_IID": "7"},
    "push to main": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"},
    "push to a branch": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "change/dinkes",
                         "CI_DEFAULT_BRANCH": "main"},
    "manual run on main": {"CI_PIPELINE_SOURCE": "web", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"},
    "schedule on main": {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main",
                         "CI_DEFAULT_BRANCH": "main"},
}


def gitlab_runs(context_name):
    """Names of the jobs a pipeline of this kind runs."""
    config, context = load(GITLAB), GITLAB_CONTEXTS[context_name]
    if "workflow" in config and not gitlab_rules_pass(config["workflow"]["rules"], context):
        return set()
    runs = set()
    for name, job in gitlab_jobs().items():
        assert "only" not in job and "except" not in job, "%s: use rules, not only/except" % name
        if "rules" not in job or gitlab_rules_pass(job["rules"], context):
            runs.add(name)
    return runs


def gitlab_job_calling(target):
    jobs = [name for name, job in gitlab_jobs().items()
            if any(t == target for t, _ in make_targets_called(gitlab_commands(job, ("script",))))]
    assert len(jobs) == 1, "expected one GitLab job running make %s, found %s" % (target, jobs)
    return jobs[0]


def test_gitlab_pipelines_run_for_merge_requests_and_main_only():
    assert gitlab_runs("merge request")
    assert gitlab_runs("push to main")
    assert not gitlab_runs("push to a branch"), "a branch without merge request runs no pipeline"


def test_gitlab_merge_request_validates_and_plans_with_the_plan_attached():
    runs = gitlab_runs("merge request")
    assert gitlab_job_calling("validate") in runs
    plan_name = gitlab_job_calling("plan")
    assert plan_name in runs
    artifacts = gitlab_jobs()[plan_name]["artifacts"]
    assert "reports/plan.md" in artifacts["paths"]
    assert artifacts.get("expose_as"), "the plan is linked from the merge request (expose_as)"
    assert artifacts.get("when") == "always", "a failed plan keeps what it computed"


def test_gitlab_main_plans_then_applies():
    config, runs = load(GITLAB), gitlab_runs("push to main")
    validate, plan, apply = (gitlab_job_calling(t) for t in ("validate", "plan", "site"))
    assert {validate, plan, apply} <= runs
    jobs, stages = gitlab_jobs(), config["stages"]
    order = [stages.index(jobs[name]["stage"]) for name in (validate, plan, apply)]
    assert order == sorted(set(order)), "stages: validate, then plan, then apply"


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


def test_gitlab_vault_password_only_from_a_ci_variable():
    for block in variables_blocks(load(GITLAB)):
        for key in block:
            assert not SECRET_NAME.search(key), "%s is set in the file: it belongs in the CI/CD variables" % key
    for name, job in gitlab_jobs().items():
        for command in gitlab_commands(job):
            assert not re.search(r"\b(ANSIBLE|LAB)_VAULT_PASSWORD=", command), "%s sets the vault password" % name
            for line in command.splitlines():
                if re.search(r"\$\{?ANSIBLE_VAULT_PASSWORD", line):
                    assert re.search(r'\[ -[zn] "\$\{ANSIBLE_VAULT_PASSWORD:-\}" \]', line), \
                        "%s uses the vault password other than to test it is set: %r" % (name, line)
    apply = gitlab_jobs()[gitlab_job_calling("site")]
    assert any("ANSIBLE_VAULT_PASSWORD" in c for c in gitlab_commands(apply)), \
        "the apply checks the vault password is there before it starts"


@pytest.mark.parametrize("target", ["plan", "site"])
@pytest.mark.parametrize("case", sorted(VAULT_CASES))
def test_gitlab_production_jobs_need_the_password_and_an_encrypted_vault(tmp_path, target, case):
    job = gitlab_jobs()[gitlab_job_calling(target)]
    password, vault, expected = VAULT_CASES[case]
    vault_file = write_vault(tmp_path, vault)
    project = sandbox(tmp_path / "project")
    env = {"ANSIBLE_VAULT_PASSWORD": password, "LAB_VAULT_PASSWORD": "lab-password"}
    if vault_file is not None:
        env["CITY_VAULT_FILE"] = str(vault_file)
    script = "\n".join(job.get("before_script", []))
    script += '\ntest -z "${LAB_VAULT_PASSWORD:-}" || { echo lab password left; exit 3; }'
    check_vault_outcome(project, shell(script, project, env).returncode == 0, expected)
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


def github_expression(expression, github, **contexts):
    text = str(expression).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    text = text.replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"!(?!=)", " not ", text)
    names = {"github": Context(github), "vars": Context(contexts.get("vars", {})),
             "secrets": Context({}), "format": lambda f, *a: f.format(*a),
             "always": lambda: True, "success": lambda: True, "failure": lambda: False}
    return bool(eval(text, {"__builtins__": {}}, names))  # noqa: S307 (our own file, no builtins)


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
    jobs, runs = data["jobs"], set()

    def runs_job(name):
        job = jobs[name]
        needs = job.get("needs", [])
        if not all(runs_job(n) for n in ([needs] if isinstance(needs, str) else needs)):
            return False
        return "if" not in job or github_expression(job["if"], github)

    return {name for name in jobs if runs_job(name)} | runs


def github_steps_running(target):
    found = [(name, step) for name, job in workflow()["jobs"].items() for step in job["steps"]
             if any(t == target for t, _ in make_targets_called([step.get("run", "")]))]
    assert len(found) == 1, "expected one GitHub step running make %s, found %d" % (target, len(found))
    return found[0]


def uploads(job):
    return [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]


def test_github_triggers_are_pull_requests_and_pushes_to_main():
    triggers = workflow()["on"]
    assert "pull_request_target" not in triggers, "pull_request_target runs a PR's code with the secrets"
    assert github_runs("pull request") and github_runs("push to main")
    assert not github_runs("push to a branch")


def test_github_pull_request_validates_and_plans_with_the_plan_attached():
    runs = github_runs("pull request")
    validate, _ = github_steps_running("validate")
    plan, plan_step = github_steps_running("plan")
    assert {validate, plan} <= runs
    job = workflow()["jobs"][plan]
    steps = job["steps"]
    after = steps[steps.index(plan_step) + 1:]
    kept = [s for s in uploads(job) if "reports/plan.md" in s["with"]["path"]]
    assert kept and "always()" in kept[0].get("if", ""), "the plan is uploaded, also after a failure"
    assert any("GITHUB_STEP_SUMMARY" in s.get("run", "") and "reports/plan.md" in s["run"] for s in after), \
        "the plan is shown on the run's summary page"


def test_github_fork_pull_request_gets_no_plan():
    plan, _ = github_steps_running("plan")
    assert plan not in github_runs("pull request from a fork"), "a fork's code must not run on the control node"


def test_github_main_plans_then_applies():
    plan, _ = github_steps_running("plan")
    apply, _ = github_steps_running("site")
    assert {plan, apply} <= github_runs("push to main")
    needs = workflow()["jobs"][apply].get("needs", [])
    assert plan in ([needs] if isinstance(needs, str) else needs)


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


@pytest.mark.parametrize("target", ["plan", "site"])
@pytest.mark.parametrize("case", sorted(VAULT_CASES))
def test_github_production_jobs_need_the_password_and_an_encrypted_vault(tmp_path, target, case):
    name, make_step = github_steps_running(target)
    job = workflow()["jobs"][name]
    password, vault, expected = VAULT_CASES[case]
    vault_file = write_vault(tmp_path, vault)
    project = sandbox(tmp_path / "project")
    secrets = {"ANSIBLE_VAULT_PASSWORD": password}
    if vault_file is not None:
        secrets["CITY_VAULT_YML"] = vault_file.read_text()
    ok = True
    for step in job["steps"][:job["steps"].index(make_step)]:
        if "run" in step:
            env = github_step_env(job, step, secrets)
            env["LAB_VAULT_PASSWORD"] = env.get("LAB_VAULT_PASSWORD", "lab-password")
            script = step["run"] + '\ntest -z "${LAB_VAULT_PASSWORD:-}" || { echo lab password left; exit 3; }'
            if shell(script, project, env).returncode != 0:
                ok = False
                break
    check_vault_outcome(project, ok, expected)


def env_blocks(data):
    yield "workflow", data.get("env", {})
    for name, job in data["jobs"].items():
        yield name, job.get("env", {})
        for step in job["steps"]:
            yield name, step.get("env", {})


def test_github_vault_password_only_from_a_secret():
    data = workflow()
    assert "ANSIBLE_VAULT_PASSWORD" not in data.get("env", {}), "only the jobs that need it get it"
    for where, env in env_blocks(data):
        for key, value in env.items():
            if SECRET_NAME.search(key):
                assert value == "" or re.fullmatch(r"\$\{\{\s*secrets\.\w+\s*\}\}", str(value)), \
                    "%s: %s is not a secret reference" % (where, key)
    apply, _ = github_steps_running("site")
    assert re.fullmatch(r"\$\{\{\s*secrets\.\w+\s*\}\}", data["jobs"][apply]["env"]["ANSIBLE_VAULT_PASSWORD"])
    for name, job in data["jobs"].items():
        for step in job["steps"]:
            run = step.get("run", "")
            assert "${{" not in run, "%s: an expression in a run: script (pass it through env:)" % name
            for line in run.splitlines():
                if re.search(r"\$\{?ANSIBLE_VAULT_PASSWORD", line):
                    assert re.search(r'\[ -[zn] "\$\{ANSIBLE_VAULT_PASSWORD:-\}" \]', line), line


def test_github_actions_are_pinned():
    for line in read(GITHUB).splitlines():
        match = re.search(r"uses:\s*([\w.-]+/[\w./-]+)@(\S+)(.*)", line)
        if match:
            ref, rest = match.group(2), match.group(3)
            assert re.fullmatch(r"[0-9a-f]{40}", ref) and re.search(r"#\s*v\d", rest) \
                or re.fullmatch(r"v\d+(\.\d+)*", ref), "pin %s to a commit (with its version) or a version" % line


# ---------------------------------------------------------------- both ---

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
        if target in ("plan", "site", "report"):
            assert "INVENTORY=inventory/production" in command, command


def test_readme_documents_every_secret_variable_and_runner_label():
    readme = read(README)
    gitlab, github = read(GITLAB), read(GITHUB)
    names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):-", gitlab + github))
    names |= set(re.findall(r"\b(?:secrets|vars)\.([A-Z][A-Z0-9_]*)", github))
    names -= {n for n in names if n.startswith(("CI_", "GITLAB_", "GITHUB_"))}
    assert names
    labels = set(load(GITLAB)[".production"]["tags"])
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
