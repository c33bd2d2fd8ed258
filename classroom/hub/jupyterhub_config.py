"""JupyterHub for a TinyTorch class: per-learner JupyterLab servers with the course installed, and
nbgrader's exchange between the learners and the instructor (INSTRUCTORS.md, "A class on JupyterHub").

    jupyterhub -f classroom/hub/jupyterhub_config.py

On one machine with a Unix account per learner (JupyterHub's own defaults: PAM login, a
LocalProcessSpawner server per learner, run as that learner). Settings come from the environment:

    TINYTORCH_HUB_URL         where the hub listens (default http://127.0.0.1:8000; put a TLS proxy
                              in front of it, or set JupyterHub's ssl_key/ssl_cert, for a real class)
    TINYTORCH_HUB_STATE       the hub's database, cookie secret and pid file (default /srv/jupyterhub)
    TINYTORCH_EXCHANGE        nbgrader's exchange (default /srv/nbgrader/exchange, writable by all)
    TINYTORCH_COURSE_ID       nbgrader's course id (default tinytorch; `tito class setup --course-id`)
    TINYTORCH_INSTRUCTORS     comma-separated instructor accounts: admins, and formgrader is theirs
    TINYTORCH_HUB_MODE=local-test   tests/test_classroom_hub.py: JupyterHub's DummyAuthenticator
                              (one shared password, TINYTORCH_HUB_PASSWORD) and SimpleLocalProcessSpawner
                              (every server as the hub's own user, homes under TINYTORCH_HUB_HOMES),
                              learners from TINYTORCH_HUB_USERS. Never for a class: anyone could log in.

A learner's server is `python -m jupyterhub.singleuser` of this environment, in which the course is
installed (`pip install -c requirements/constraints.txt -r classroom/hub/requirements.txt`), so their
notebooks' graded cells run tito's checks. Learners get classroom/hub/student/ as their Jupyter
configuration: the course's exchange and id, their hub name as nbgrader's student id, and no
formgrader. The proxy is configurable-http-proxy (npm, pinned in classroom/hub/setup.sh).
"""
import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)

HERE = Path(__file__).resolve().parent
CLONE = HERE.parent.parent
STATE = Path(os.environ.get("TINYTORCH_HUB_STATE", "/srv/jupyterhub"))
EXCHANGE = os.environ.get("TINYTORCH_EXCHANGE", "/srv/nbgrader/exchange")
COURSE_ID = os.environ.get("TINYTORCH_COURSE_ID", "tinytorch")
INSTRUCTORS = {name for name in os.environ.get("TINYTORCH_INSTRUCTORS", "instructor").split(",") if name}
TEST = os.environ.get("TINYTORCH_HUB_MODE") == "local-test"

c.JupyterHub.bind_url = os.environ.get("TINYTORCH_HUB_URL", "http://127.0.0.1:8000")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.Authenticator.admin_users = INSTRUCTORS

# The proxy: configurable-http-proxy, from PATH or where classroom/hub/setup.sh installs it.
proxy = shutil.which("configurable-http-proxy") or str(CLONE / ".venv" / "node" / "node_modules" / ".bin"
                                                        / "configurable-http-proxy")
c.ConfigurableHTTPProxy.command = [proxy]
if os.environ.get("TINYTORCH_PROXY_API_URL"):
    c.ConfigurableHTTPProxy.api_url = os.environ["TINYTORCH_PROXY_API_URL"]
if os.environ.get("TINYTORCH_HUB_INTERNAL_URL"):
    c.JupyterHub.hub_bind_url = os.environ["TINYTORCH_HUB_INTERNAL_URL"]

# Each learner's server: this environment's single-user JupyterLab.
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120


def per_user(spawner) -> None:
    """Learners get the course's student configuration (exchange, course id, their hub name as
    nbgrader's student id, no formgrader); instructors their own default one."""
    env = spawner.environment = dict(spawner.environment or {})
    env.update(TINYTORCH_EXCHANGE=EXCHANGE, TINYTORCH_COURSE_ID=COURSE_ID,
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if spawner.user.name not in INSTRUCTORS:
        env["JUPYTER_CONFIG_PATH"] = str(HERE / "student")
    if TEST and os.geteuid() == 0:
        spawner.args = [*spawner.args, "--allow-root"]


c.Spawner.pre_spawn_hook = per_user

if TEST:
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = os.environ["TINYTORCH_HUB_PASSWORD"]
    c.Authenticator.allowed_users = set(os.environ.get("TINYTORCH_HUB_USERS", "").split(",")) | INSTRUCTORS
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = os.environ["TINYTORCH_HUB_HOMES"] + "/{username}"
