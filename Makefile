# Two commands: `make book` (set up + build the executed book, English and Chinese) and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt

.PHONY: setup book test lint clean
setup: $(BIN)/python

book: setup
	$(BIN)/jupyter-book build . -W -n --keep-going
	$(BIN)/python .ci/translations.py build
	@echo "Open _build/html/index.html (English) or _build/html/zh-CN/index.html (中文) in your browser."

# Two pytest workers (each with its share of the cores, see conftest.py); a notebook's cells stay
# on one worker (--dist loadfile). JOBS=0 runs everything in this one process.
JOBS ?= 2
test: setup
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile

lint: setup
	$(BIN)/ruff check aigc_course tests .ci _ext conftest.py notebooks/conftest.py

clean:
	rm -rf _build
