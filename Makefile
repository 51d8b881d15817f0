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

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check aigc_course tests .ci _ext

clean:
	rm -rf _build
