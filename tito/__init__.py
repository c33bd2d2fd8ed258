"""`tito`: the learner's command line for TinyTorch (start, complete, test, status, reset a module).

`tito --help` lists the commands; DESIGN.md ("The learner's workflow") explains the mechanism.
"""
