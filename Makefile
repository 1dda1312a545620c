# lobzero: `make demo` and `make test` work on a fresh clone (they set up .venv and build).
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install build browser demo test test-rust test-python test-loom lint fmt bench stubtest clean

# The venv is made once; dependencies are reinstalled only when pyproject.toml changes.
$(PY):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# the extras dev, rl, ray and tune: CI runs the Ray and Optuna tests too
$(VENV)/.deps: pyproject.toml | $(PY)
	$(BIN)/pip install --quiet "maturin>=1.7,<2"
	$(BIN)/python -c "import tomllib,subprocess,sys; p=tomllib.load(open('pyproject.toml','rb'))['project']; extras=p['optional-dependencies']; deps=p['dependencies']+extras['dev']+extras['rl']+extras['ray']+extras['tune']; subprocess.check_call([sys.executable,'-m','pip','install','--quiet',*deps])"
	touch $@

# maturin develop compiles the Rust extension (release) and installs the package in editable form.
build: $(VENV)/.deps
	@$(BIN)/maturin develop --release --quiet 2>&1 | grep -v "^Requirement already satisfied" || true
	@$(PY) -c "import lobzero._core" || (echo "the Rust extension did not build" && exit 1)

install: build

demo: build
	$(PY) -m lobzero.cli demo

test-rust:
	cargo test -p lobzero-core --release --quiet

# The worker pool's protocol under loom (every interleaving up to a preemption bound); a target
# folder of its own, since `--cfg loom` rebuilds every dependency. Not in `test`: the cold build
# takes minutes on a 2-core machine (the models themselves ~5 s).
test-loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p lobzero-core --release --test loom_pool

# Headless chromium opens compare's index.html in tests/evaluation/test_report_browser.py.
# Installed once (Debian's package) when missing and we are root; otherwise that test skips
# and says why, and nothing else depends on it.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	if [ "$$(id -u 2>/dev/null)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } || \
		echo "chromium could not be installed: the report's browser test will skip"; \
	else \
		echo "chromium not found (not root, or no apt-get): the report's browser test will skip"; \
	fi

test-python: build browser
	$(PY) -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

test: test-rust test-loom test-python

lint: build
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --release -- -D warnings
	$(BIN)/ruff check python tests benchmarks examples
	$(BIN)/ruff format --check python tests benchmarks examples
	$(BIN)/python -m mypy.stubtest lobzero._core --allowlist stubtest-allowlist.txt

stubtest: build
	$(BIN)/python -m mypy.stubtest lobzero._core --allowlist stubtest-allowlist.txt

fmt:
	cargo fmt --all
	$(BIN)/ruff format python tests benchmarks examples
	$(BIN)/ruff check --fix python tests benchmarks examples

bench: build
	$(PY) benchmarks/run_all.py

clean:
	rm -rf target $(VENV) python/lobzero/_core*.so
