# A learner's server on the class hub: nbgrader's Assignments tab (fetch, submit, feedback) and
# validate button, without the instructor's formgrader and course list.
c = get_config()  # noqa: F821
c.ServerApp.jpserver_extensions = {
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.course_list": False,
    "nbgrader.server_extensions.assignment_list": True,
    "nbgrader.server_extensions.validate_assignment": True,
}
