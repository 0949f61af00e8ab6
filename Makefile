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

.PHONY: book test test-package test-notebooks test-student-notebooks test-wheel test-min-versions test-site student system clean

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

# --all: every page is executed again, also when only the package or a recorded run changed.
book: $(STAMP)
	$(SMOKE) $(BIN)/jupyter-book build . --all --warningiserror --keep-going

# The student versions (solutions replaced by stubs) are committed in student/, so that the
# instructors' page can link each one to Colab; tests/test_student.py checks they are up to date.
student: $(STAMP)
	$(BIN)/python -m vitcourse.student chapters student

test-package: $(STAMP)
	$(SMOKE) KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -q -m "not browser and not wheel"
	$(SMOKE) KERAS_BACKEND=jax $(BIN)/python -m pytest -q -m "not browser and not wheel and not tf_only"

# The chapters against this checkout, then their student versions (each check cell must say
# "not attempted yet") with oneDNN and XLA held to AVX2, as on a CPU without AVX-512 or AMX: the
# compared outputs must not depend on the processor.
AVX2_ONLY := ONEDNN_MAX_CPU_ISA=AVX2 XLA_FLAGS=--xla_cpu_max_isa=AVX2 OPENBLAS_CORETYPE=Haswell
test-notebooks: $(STAMP)
	$(SMOKE) $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env chapters
	$(MAKE) test-student-notebooks

test-student-notebooks: $(STAMP)
	$(SMOKE) $(AVX2_ONLY) $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env student

# What a Colab reader gets: the built wheel in a fresh environment, chapters run against it.
test-wheel: $(STAMP)
	$(SMOKE) $(BIN)/python -m pytest -q -m wheel

test-site: book
	$(BIN)/python -m pytest -q -m browser

# The oldest Keras, TensorFlow and JAX that pyproject.toml declares (requirements-min.txt), with
# the built wheel installed (not this checkout): the package tests on TensorFlow, and chapter 01.
MIN_VENV := _build/venv-min
test-min-versions: $(STAMP)
	rm -rf build _build/wheel $(MIN_VENV) && mkdir -p _build/wheel
	$(BIN)/python -m pip wheel -q --no-deps -w _build/wheel .
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/pip install -q --upgrade pip
	$(MIN_VENV)/bin/pip install -q -r requirements-min.txt _build/wheel/vitcourse-*.whl
	cd /tmp && $(abspath $(MIN_VENV))/bin/python -c "import keras, vitcourse; assert '$(MIN_VENV)' in vitcourse.__file__, vitcourse.__file__; print('keras', keras.__version__, 'vitcourse from', vitcourse.__file__)"
	$(SMOKE) KERAS_BACKEND=tensorflow $(MIN_VENV)/bin/pytest -q -p no:cacheprovider -m "not browser and not wheel and not slow" --ignore=tests/test_workflows.py tests
	$(SMOKE) $(MIN_VENV)/bin/pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env chapters/01_patches.ipynb

# `make test` runs each chapter with nbval once, against the installed wheel (test-wheel), as a
# Colab reader gets it; test-notebooks runs them against the checkout, for quicker edits.
test: test-package test-student-notebooks test-wheel test-min-versions test-site

clean:
	rm -rf _build .jupyter_cache build
