# Two commands on a fresh clone: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU wheel of torch first, so nothing later resolves torch to a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/graphchurn analyze --interactions data/sample/interactions.csv.gz \
		--customers data/sample/customers.csv --out out/demo

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out
