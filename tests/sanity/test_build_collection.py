"""scripts/build-collection: the tree as a collection, names rewritten (make sanity runs ansible-test on it)."""
import importlib.machinery
import importlib.util
import os
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "build-collection")


def load_script(path):
    loader = importlib.machinery.SourceFileLoader(os.path.basename(path).replace("-", "_"), path)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def build(tmp_path):
    out = subprocess.run([sys.executable, SCRIPT, str(tmp_path)], check=True, capture_output=True, text=True,
                         timeout=120)
    meta = yaml.safe_load(open(os.path.join(ROOT, "tests", "sanity", "collection.yml"), encoding="utf-8"))
    root = out.stdout.strip()
    assert root == os.path.join(str(tmp_path), "ansible_collections", meta["namespace"], meta["name"])
    return root, meta


def test_layout_and_metadata(tmp_path):
    root, meta = build(tmp_path)
    for tree_dir, collection_dir in load_script(SCRIPT).PLUGIN_DIRS.items():
        names = {n for n in os.listdir(os.path.join(ROOT, tree_dir)) if n.endswith(".py")}
        assert names <= set(os.listdir(os.path.join(root, collection_dir))), tree_dir
    assert os.path.isdir(os.path.join(root, "roles", "dns_server", "tasks"))
    galaxy = yaml.safe_load(open(os.path.join(root, "galaxy.yml"), encoding="utf-8"))
    assert galaxy["namespace"] == meta["namespace"] and galaxy["name"] == meta["name"]
    assert galaxy["version"] == str(meta["version"])
    runtime = yaml.safe_load(open(os.path.join(root, "meta", "runtime.yml"), encoding="utf-8"))
    assert runtime == {"requires_ansible": meta["requires_ansible"]}
    assert not [d for d, _, files in os.walk(root) for f in files if f.endswith(".pyc")]


def test_names_rewritten(tmp_path):
    root, meta = build(tmp_path)
    prefix = f"{meta['namespace']}.{meta['name']}"
    for dirpath, _, files in os.walk(os.path.join(root, "plugins")):
        for name in files:
            if not name.endswith(".py"):
                continue
            text = open(os.path.join(dirpath, name), encoding="utf-8").read()
            for line in text.splitlines():
                if line.lstrip().startswith(("from ", "import ")):
                    assert "ansible.module_utils.city" not in line, (name, line)
    fragments = [n[:-3] for n in os.listdir(os.path.join(ROOT, "doc_fragments")) if n.endswith(".py")]
    for name in os.listdir(os.path.join(root, "plugins", "modules")):
        doc = open(os.path.join(root, "plugins", "modules", name), encoding="utf-8").read()
        for fragment in fragments:
            assert f"  - {fragment}\n" not in doc, (name, fragment)
    mail_inventory = open(os.path.join(root, "plugins", "modules", "mail_inventory.py"), encoding="utf-8").read()
    assert f"  - {prefix}.ldap_connection\n" in mail_inventory
    assert f"ansible_collections.{prefix}.plugins.module_utils.city.mail" in mail_inventory


def test_rewrite_keeps_visual_indent():
    rewriter = load_script(SCRIPT).Rewriter("ns", "name")
    source = ("from ansible.module_utils.city.mail.plan import (CREATE, DELETE,\n"
              "                                                 RESET)\n"
              "x = (1,\n"
              "     2)\n")
    lines = rewriter.python(source).splitlines()
    assert lines[0].index("(") + 1 == len(lines[1]) - len(lines[1].lstrip())
    assert lines[2:] == ["x = (1,", "     2)"]
    hanging = "from ansible.module_utils.city.sms import (\n    blast,\n)\n"
    assert rewriter.python(hanging).splitlines()[1] == "    blast,"
    assert rewriter.python("import ansible.module_utils.basic\n") == "import ansible.module_utils.basic\n"


def test_ignore_list_entries_match(tmp_path):
    root, _ = build(tmp_path)
    sanity = load_script(os.path.join(ROOT, "scripts", "build-collection-sanity"))
    sanity.write_ignore_file(root, "2.19")
    written = open(os.path.join(root, "tests", "sanity", "ignore-2.19.txt"), encoding="utf-8").read().splitlines()
    assert written and all(" # " in line and not line.split()[0].count("*") for line in written)
    assert "plugins/modules/dns_zone.py validate-modules:missing-gplv3-license" in [
        " ".join(line.split()[:2]) for line in written]
