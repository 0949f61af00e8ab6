# Two commands for a fresh machine:
#   make book   builds the rendered book (chapters executed in smoke mode) into _build/html
#   make test   runs every test: the package on TensorFlow and JAX, every notebook, the site
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SMOKE := VITCOURSE_MODE=smoke TF_CPP_MIN_LOG_LEVEL=2
# apt-get needs root; use sudo where we are not root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: book test test-package test-notebooks test-site student system clean

$(STAMP): requirements.txt pyproject.toml
	@command -v dot >/dev/null && command -v chromium >/dev/null && command -v chromedriver >/dev/null || $(MAKE) system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# graphviz draws model diagrams; chromium + chromedriver run the site test.
system:
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq graphviz chromium chromium-driver >/dev/null

book: $(STAMP)
	$(SMOKE) $(BIN)/jupyter-book build . --warningiserror --keep-going

student: $(STAMP)
	$(BIN)/python -m vitcourse.student chapters _build/student

test-package: $(STAMP)
	$(SMOKE) KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -q -m "not browser"
	$(SMOKE) KERAS_BACKEND=jax $(BIN)/python -m pytest -q -m "not browser and not tf_only"

test-notebooks: $(STAMP)
	$(SMOKE) $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env chapters

test-site: book
	$(BIN)/python -m pytest -q -m browser

test: test-package test-notebooks test-site

clean:
	rm -rf _build .jupyter_cache
