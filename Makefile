# Two commands on a fresh clone: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
# torch comes first and as a CPU build: asked for by its +cpu version, which only PyTorch's CPU
# index (or a local wheel on pip's configured index) holds, so pip can never fall back to PyPI's
# multi-GB CUDA build. Point TORCH_INDEX_URL at a mirror, or set TORCH_SPEC=torch==2.13.0 on
# macOS (whose wheels carry no +cpu tag) or for a CUDA build from another index.
TORCH_SPEC ?= torch==2.13.0+cpu
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast system-packages install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --retries 1 --timeout 20 --extra-index-url $(TORCH_INDEX_URL) \
		'$(TORCH_SPEC)'
	$(BIN)/pip install --quiet -e '.[gnn,web,test,spark,experiments]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/graphchurn analyze --interactions data/sample/interactions.csv.gz \
		--customers data/sample/customers.csv --out out/demo

test: $(STAMP) system-packages
	$(BIN)/python -m pytest

# Debian packages the tests need, installed when missing: chromium for the browser end-to-end
# test (tests/test_web_e2e.py), Java 17+ for the Spark engine's tests (tests/test_spark.py).
system-packages:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	if [ -n "$$missing" ]; then apt-get update -q && apt-get install -y -q $$missing; fi

# While iterating: everything but the full-pipeline runs (marked slow).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m 'not slow'

clean:
	rm -rf $(VENV) out
