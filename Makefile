# The two commands: `make run` and `make test`. Everything else they need is set up here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	mkdir -p var
	$(BIN)/mtb db upgrade
	$(BIN)/mtb catalog load
	$(BIN)/mtb demo
	$(BIN)/mtb fonts
	$(BIN)/mtb serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var
