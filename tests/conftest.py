import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Playbooks run by the tests go through the callback plugin apply_session: give them a
# lock, an audit trail and a plan directory of their own, never the project's state/.
if "CITY_STATE_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile
    _OPERATE = tempfile.mkdtemp(prefix="city-test-operate-")
    atexit.register(shutil.rmtree, _OPERATE, True)
    os.environ["CITY_STATE_DIR"] = os.path.join(_OPERATE, "state")
    os.environ["CITY_PLAN_DIR"] = os.path.join(_OPERATE, "plan")
