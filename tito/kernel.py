"""The "TinyTorch (yours)" Jupyter kernel: an IPython kernel whose `import tinytorch` is the learner's.

Jupyter starts a kernel in the folder of its notebook. From there this finds the clone
(`tito.workspace.find_root`) and puts its `workspace/package` first on sys.path (and on PYTHONPATH,
for processes the notebook starts), then runs the ordinary ipykernel. That package is the course's,
with the learner's code in the solution blocks of the modules they completed (see tito/package.py).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    from tito.workspace import TitoError, find_root, package_dir

    try:
        package = package_dir(find_root(Path.cwd()))
    except TitoError:
        package = None
    if package is not None and (package / "tinytorch").is_dir():
        sys.path.insert(0, str(package))
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package), os.environ.get("PYTHONPATH")]))
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
