"""Every module's DOCUMENTATION, EXAMPLES and RETURN render with ansible-doc, warning-free."""
import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = sorted(os.path.splitext(os.path.basename(p))[0]
                 for p in glob.glob(os.path.join(ROOT, "library", "*.py")))


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_without_warnings(module):
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    proc = subprocess.run([ansible_doc, "-M", os.path.join(ROOT, "library"), module],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr.upper() and "[WARNING]" not in proc.stdout, proc.stderr
    for section in ("OPTIONS", "EXAMPLES", "RETURN VALUES"):
        assert section in proc.stdout


@pytest.mark.parametrize("plugin", sorted(os.path.splitext(os.path.basename(p))[0]
                                          for p in glob.glob(os.path.join(ROOT, "callback_plugins", "*.py"))))
def test_callback_docs_render_without_warnings(plugin):
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    proc = subprocess.run([ansible_doc, "-t", "callback", plugin], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr.upper(), proc.stderr
    assert "OPTIONS" in proc.stdout
    assert {"apply_session": "lock_wait", "city_progress": "interval"}[plugin] in proc.stdout
