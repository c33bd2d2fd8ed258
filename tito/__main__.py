"""`python -m tito ...` is the same as the `tito` console script."""
from tito.cli import main

main()
