# TinyTorch: `make book` builds the site, `make test` runs every check. Both set up .venv first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SPEECH := $(VENV)/.speech-checked
PORT ?= 8000

.PHONY: venv speech export export-check book test serve bench bench-scaling clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements/runtime.txt requirements/dev.txt requirements/class.txt requirements/constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements/constraints.txt -r requirements/dev.txt -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# The speech engine of the chapters' audio overviews (Debian: festival, its HTS voice, lame):
# installed with apt-get when run as root, else one line says how. Never fails; tried once per
# .venv by `make book` and `make test`, every time by `make speech`.
speech: $(STAMP)
	-@$(PY) tools/overview.py --setup
	@touch $(SPEECH)

$(SPEECH): | $(STAMP)
	-@$(PY) tools/overview.py --setup
	@touch $(SPEECH)

export: $(STAMP)
	$(PY) tools/export.py

export-check: $(STAMP)
	$(PY) tools/export.py --check

# Export, execute every chapter, build the site (warnings are shown; a failing cell still fails).
book: export $(SPEECH)
	$(PY) tools/build_book.py --lenient
	@echo "Open $(CURDIR)/_build/html/index.html (or run make serve)"

# Export check, strict book build, pytest + doctests: all run, summary at the end, non-zero if any failed.
test: $(STAMP) $(SPEECH)
	$(PY) tools/run_checks.py

serve: $(STAMP)
	@test -f _build/html/index.html || { echo "No built site: run make book first"; exit 1; }
	@echo "Serving $(CURDIR)/_build/html on http://localhost:$(PORT)/ (Ctrl-C stops)"
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

# Ratios against hand-written NumPy and PyTorch, one thread per library; exit 1 if a target is missed.
# ARGS picks modules by name (make bench ARGS=mlp) or runs the sweep (make bench ARGS=--scaling).
bench: $(STAMP)
	$(PY) bench/run.py $(ARGS)

# Step time over batch sizes and widths: _build/bench/scaling.{json,csv,png}.
bench-scaling: $(STAMP)
	$(PY) bench/scaling.py $(ARGS)

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
