# Dingdian POS. `make demo` and `make test` set everything up themselves on a fresh Debian 12.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the venv needs (so `make demo` too): gcc, python3-dev and libpcsclite-dev compile pyscard at
# install (no Linux wheel; swig comes from PyPI); gcc also builds the tests' stand-in regional card library.
BUILD_PACKAGES := gcc python3-dev libpcsclite-dev
# Debian packages the suite drives for real (`make test` installs them besides the build ones): PostgreSQL
# (chain mode), tmux (the till as a person uses it), pcscd + vsmartcard's virtual reader (the card reader's tests),
# the CJK font the PDFs are set in (reports/export/fonts.py) and poppler-utils (pdftoppm, pdftotext, pdffonts: the
# PDF tests render every page and read the text back), and chromium with its chromium-driver (selenium drives the
# headless browser through the back office that `dingdian office` serves, tests/pos/test_office_browser.py).
APT_PACKAGES := postgresql tmux pcscd vsmartcard-vpcd fonts-wqy-microhei poppler-utils chromium chromium-driver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

LINT_PATHS := pos server devices catalog reports tests bench
# The fast unit tests `make check` runs: pure functions only, files that start no service, open no database
# and drive no device stack (so none of them is marked slow, postgres or hardware). A file list rather than a
# marker: one place to read and extend, nothing to tag in the test files. Keep the whole run under ~40 s
# (measured: 33 s wall on the 2-core machine). The one test deselected starts the sandbox centre.
CHECK_TESTS := tests/catalog \
	tests/server/test_card_rules.py tests/server/test_prescription_rules.py tests/server/test_controlled_rules.py \
	tests/server/test_rule_register.py tests/test_rules_audit.py \
	tests/insurance/test_wire.py tests/insurance/test_signing.py tests/insurance/test_fund.py \
	tests/devices/test_receipt_layout.py tests/devices/test_card_apdu.py tests/pos/test_typeahead.py \
	tests/test_privacy_scan.py \
	--deselect tests/insurance/test_signing.py::test_hmac_signed_messages_pass_the_gateway_and_bad_ones_are_turned_away

.PHONY: demo test check rules bench lint types imports system system-build venv clean-demo

demo: venv
	$(BIN)/dingdian demo

# Before every commit: ruff, mypy, the import contracts and the fast unit tests (under a minute once mypy's
# cache is warm). Needs the venv only, no Debian package beyond what the venv itself builds with.
check: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -q -m "not slow and not postgres and not hardware" $(CHECK_TESTS)

# The rules audit: every rule of the register (server/rules/register.py) with the tests marked
# @pytest.mark.refuses that show it refusing, then the rules no test shows refusing. Reads the tests, runs none.
rules: venv
	$(BIN)/python -m tests.rules_audit

# The whole suite, after the quick gate: against SQLite and a private PostgreSQL cluster, with the real device stacks.
# On TEST_WORKERS processes (pytest-xdist; the machine-wide card stack's tests share one, see tests/conftest.py).
# The fast tests `make check` has just run are left out of the suite (tests/conftest.py, _already_checked), so
# none runs twice; the slowest tests are listed at the end, to keep the run inside CI's 15 minutes.
# Three on two cores: a third worker runs while the others wait on a service starting, a tmux pane, the centre.
TEST_WORKERS ?= 3
test: system venv
	$(MAKE) --no-print-directory check
	DINGDIAN_ALREADY_CHECKED='$(CHECK_TESTS)' $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --durations=20

bench: system venv  # the card benchmark drives pcscd + vpcd, as the tests do
	$(BIN)/python -m bench

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)

types: venv
	$(BIN)/mypy

imports: venv
	$(BIN)/lint-imports

# Debian packages: installed only when missing, so a warm machine does not wait for apt.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

# after system-build, so two apt-gets never race for dpkg's lock under make -j
system: system-build
	$(call apt_install,$(APT_PACKAGES))

system-build:
	$(call apt_install,$(BUILD_PACKAGES))

# The venv is rebuilt when the dependencies or their pins change.
venv: $(VENV)/.installed

# system-build is order-only: checked every time (cheap), but it does not make the venv out of date.
$(VENV)/.installed: pyproject.toml constraints.txt | system-build
	@# Debian's own python3 needs python3-venv for this; install it only when venv creation fails.
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv && \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

clean-demo:
	rm -f var/dingdian.db var/dingdian.db-wal var/dingdian.db-shm
