PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test check-config clean bench migrate migrations ffmpeg-check

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	# A newer pip when the index has one; the install below also works with the pip the machine has (23+).
	$(VENV)/bin/pip install -q --upgrade pip || echo "pip not upgraded; installing with $$($(VENV)/bin/pip --version)"
	$(VENV)/bin/pip install -q -e '.[dev]'
	$(VENV)/bin/pip check
	touch $(STAMP)

run: $(STAMP) ffmpeg-check
	mkdir -p data
	$(VENV)/bin/bot run --config config.yaml

check-config: $(STAMP)
	$(VENV)/bin/bot check-config --config config.yaml

# Voice messages need Debian's ffmpeg and ffprobe (AMR/Speex conversion, durations); .ci/run installs them.
ffmpeg-check:
	@command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || { \
	  echo "ffmpeg/ffprobe not found: voice messages will be refused and the media tests fail."; \
	  echo "Install Debian's ffmpeg: sudo apt-get install -y ffmpeg"; \
	  if [ -n "$$CI" ]; then exit 1; fi; }

test: $(STAMP) ffmpeg-check
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Benchmarks (not tests): writes bench/results/report.md and results.json. BENCH_ARGS=--quick for a short run.
$(VENV)/.bench-installed: $(STAMP) pyproject.toml
	$(VENV)/bin/pip install -q -e '.[dev,bench,fast]'
	touch $@

bench: $(VENV)/.bench-installed
	$(VENV)/bin/python -m bench.run $(BENCH_ARGS)

# Schema migrations: `make migrate` applies pending ones to the configured database; `make migrations`
# writes a migration for model changes (MIGRATIONS_ARGS=--reset regenerates 0001_initial before a release).
migrate: $(STAMP)
	$(VENV)/bin/bot migrate --config $(or $(CONFIG),config.yaml)

migrations: $(STAMP)
	$(VENV)/bin/bot makemigrations $(MIGRATIONS_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
