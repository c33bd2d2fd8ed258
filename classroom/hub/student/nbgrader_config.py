# nbgrader's configuration in a learner's server on the class hub (classroom/hub/jupyterhub_config.py
# points JUPYTER_CONFIG_PATH here): the course's exchange and id, and the learner's hub name as their
# student id (what they submit under, whichever Unix account their server runs as).
import os

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = os.environ.get("TINYTORCH_COURSE_ID", "tinytorch")
c.Exchange.root = os.environ.get("TINYTORCH_EXCHANGE", "/srv/nbgrader/exchange")
if os.environ.get("JUPYTERHUB_USER"):
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
