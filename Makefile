# Two commands for a newcomer (README): `make demo` and `make test`.
# Both create .venv and install the project with what they need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
EXTRAS := issuer,verifier,bridge,test,dev
STAMP  := $(VENV)/.installed

# The machine's PostgreSQL for the integration tests (CI fails if it is unreachable).
export KIA_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: setup demo test lint browser oracle fuse fonts softhsm bench clean

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $@

setup: $(STAMP)

demo: setup
	$(BIN)/kia demo

lint: setup
	$(BIN)/ruff check keys issuer verifier firmware_bridge kia tests bench
	$(BIN)/mypy

# The browser tests drive Debian's chromium with Playwright (never a browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Go's sumdb/tlog and sumdb/note check keys/tlog.py as an independent implementation (offline, GOPATH mode).
oracle:
	@{ command -v go >/dev/null 2>&1 && test -d /usr/share/gocode/src/golang.org/x/mod/sumdb/tlog; } || { \
		echo "installing Debian's golang-go and golang-golang-x-mod-dev for the transparency-log oracle"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-golang-x-mod-dev >/dev/null; }

# The power-loss tests mount a FUSE filesystem (tests/powerloss): Debian's fuse3 gives fusermount3 and libfuse3.
fuse:
	@{ command -v fusermount3 >/dev/null 2>&1 && ldconfig -p | grep -q 'libfuse3\.so\.3'; } || { \
		echo "installing Debian's fuse3 for the power-loss tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3 >/dev/null; }

# The printed cards and receipts (issuer/printing.py) are set in Debian's DejaVu fonts.
fonts:
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || { \
		echo "installing Debian's fonts-dejavu-core for the printed cards"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null; }

# Keys on a PKCS#11 token (keys.hsm) are tested on Debian's SoftHSM, on a throwaway token per test module.
softhsm:
	@test -f /usr/lib/softhsm/libsofthsm2.so || { \
		echo "installing Debian's softhsm2 for the HSM tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null; }

# The suite runs twice, side by side (tests/both_clocks.py): on the real clock, and
# with the clock a year and a day ahead (tests/clock_ahead.py), so that no test may
# meet a fixed date with today's; that run has its own PostgreSQL database.  The
# installed-wheel tests run once, on the real clock.  pytest exits 5 when no test
# ran, which fails this target too.
test: lint browser oracle fuse fonts softhsm
	$(BIN)/python -m tests.both_clocks

# Every benchmark, from a fresh clone: the bench extra, then the PostgreSQL database they share
# (KIA_BENCH_DATABASE_URL, by default kia_bench on the local server), created when missing.
bench: setup
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS),bench]'
	$(BIN)/python bench/bench_database.py
	$(BIN)/python bench/bench_qr_size.py
	$(BIN)/python bench/bench_verify.py
	$(BIN)/python bench/bench_issue.py
	$(BIN)/python bench/bench_sync_ingest.py --intake all
	$(BIN)/python bench/bench_idle_poll.py
	$(BIN)/python bench/bench_report.py
	$(BIN)/python bench/bench_report_scale.py
	$(BIN)/python bench/bench_retention.py
	$(BIN)/python bench/bench_terminal.py
	$(BIN)/python bench/bench_terminal_start.py
	$(BIN)/python bench/bench_terminal_reload.py
	$(BIN)/python bench/bench_gate.py
	$(BIN)/python bench/bench_printing.py
	$(BIN)/python bench/bench_public_page.py
	$(BIN)/python bench/bench_log_integrate.py
	$(BIN)/python bench/bench_login_flood.py
	$(BIN)/python bench/bench_audit_anomalies.py
	$(BIN)/python bench/bench_hsm.py
	$(BIN)/python bench/bench_revocation_codec.py
	$(BIN)/python bench/bench_trust_list_forms.py
	$(BIN)/python bench/bench_directory_delta.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache *.egg-info
