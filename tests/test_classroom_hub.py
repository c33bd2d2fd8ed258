"""A class on JupyterHub, on the loopback address: classroom/hub/jupyterhub_config.py with its test
settings (JupyterHub's DummyAuthenticator and SimpleLocalProcessSpawner). Two learners log in through
the hub's login form, get their own servers, fetch the release from the Assignments tab's server API
(nbgrader's exchange), one writes the module through the server's contents API, both submit; the
instructor collects and autogrades both. The proxy is configurable-http-proxy from npm
(classroom/hub/install-proxy.sh): installed here when missing, and the test is skipped only where npm
is not installed."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from classroom_helpers import ROOT, module, reference
from tito import classroom

pytestmark = pytest.mark.slow
FOLDER = "03_layers"
PASSWORD = "class-test-password"


def proxy() -> Path:
    installed = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
    if installed.exists():
        return installed
    if shutil.which("npm") is None:
        pytest.skip("JupyterHub's proxy, configurable-http-proxy, comes from npm (classroom/hub/install-proxy.sh), "
                    "and npm is not installed here")
    done = subprocess.run(["bash", str(ROOT / "classroom" / "hub" / "install-proxy.sh")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and installed.exists(), done.stdout + done.stderr
    return installed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(what: str, ready, timeout: float = 60.0, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = ready()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_learners_on_the_hub_fetch_and_submit_and_the_instructor_grades_both(tmp_path):
    import requests

    proxy()
    exchange, homes, state = tmp_path / "exchange", tmp_path / "homes", tmp_path / "state"
    for folder in (homes, state):
        folder.mkdir()
    course = classroom.setup(tmp_path / "course", ROOT, exchange=exchange, notebook_timeout=300)
    classroom.release(course, FOLDER)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "TINYTORCH"))}
    env.update(TINYTORCH_HUB_MODE="local-test", TINYTORCH_HUB_PASSWORD=PASSWORD, TINYTORCH_HUB_USERS="ada,bob",
               TINYTORCH_HUB_HOMES=str(homes), TINYTORCH_HUB_STATE=str(state), TINYTORCH_EXCHANGE=str(exchange),
               TINYTORCH_HUB_URL=url, TINYTORCH_PROXY_API_URL=f"http://127.0.0.1:{free_port()}",
               TINYTORCH_HUB_INTERNAL_URL=f"http://127.0.0.1:{free_port()}", TINYTORCH_INSTRUCTORS="teacher")
    log = open(tmp_path / "hub.log", "w")
    hub = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(ROOT / "classroom" / "hub" /
                                                                            "jupyterhub_config.py")],
                           cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def healthy():
            assert hub.poll() is None, (tmp_path / "hub.log").read_text()[-3000:]
            try:
                return requests.get(f"{url}/hub/health", timeout=2).ok
            except requests.RequestException:
                return False

        wait("the hub", healthy)
        sessions = {}
        for name in ("ada", "bob"):
            session = requests.Session()
            session.get(f"{url}/hub/login", timeout=10)
            answer = session.post(f"{url}/hub/login?next=", data={"username": name, "password": PASSWORD,
                                                                   "_xsrf": session.cookies.get("_xsrf")}, timeout=60)
            assert answer.ok, answer.text[-500:]
            sessions[name] = session

        def api(name: str, method: str, path: str, **kwargs):
            session = sessions[name]
            token = session.cookies.get("_xsrf", path=f"/user/{name}/") or session.cookies.get("_xsrf")
            return session.request(method, f"{url}/user/{name}/{path}", headers={"X-XSRFToken": token or ""},
                                   timeout=120, **kwargs)

        def lab_open(name: str) -> bool:
            """The learner's JupyterLab page: once the server is up, the hub's OAuth logs them in to it."""
            page = sessions[name].get(f"{url}/user/{name}/lab", timeout=30)
            return page.status_code == 200 and page.url.split("?")[0].endswith(f"/user/{name}/lab")

        for name in sessions:
            wait(f"{name}'s server", lambda: lab_open(name), timeout=90, every=0.5)
            assert api(name, "GET", "api/status").status_code == 200
        ids = {"course_id": "tinytorch", "assignment_id": FOLDER}
        for name in sessions:
            fetched = api(name, "POST", "assignments/fetch", json=ids)
            assert fetched.ok, fetched.text[-500:]
            assert (homes / name / FOLDER / f"{FOLDER}.ipynb").is_file()
        path = f"api/contents/{FOLDER}/{FOLDER}.ipynb"
        notebook = api("ada", "GET", path).json()["content"]
        written = classroom.fill(json.loads(json.dumps(notebook)), reference(module(FOLDER)), FOLDER)
        saved = api("ada", "PUT", path, json={"type": "notebook", "format": "json", "content": written})
        assert saved.ok, saved.text[-500:]
        for name in sessions:
            submitted = api(name, "POST", "assignments/submit", json=ids)
            assert submitted.ok and json.loads(submitted.text) != {"success": False}, submitted.text[-800:]
        inbound = sorted(p.name.split("+")[0] for p in (exchange / "tinytorch" / "inbound").iterdir())
        assert inbound == ["ada", "bob"]
    finally:
        os.killpg(hub.pid, signal.SIGTERM)
        try:
            hub.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(hub.pid, signal.SIGKILL)
        log.close()
    assert classroom.collect(course, FOLDER) == ["ada", "bob"]
    scores = {s.student: s.code for s in classroom.autograde(course, FOLDER, jobs=1)}
    full = classroom_points()
    assert scores == {"ada": full, "bob": 0}


def classroom_points() -> float:
    from tito.rubric import load

    return load(ROOT)[FOLDER].code_points
