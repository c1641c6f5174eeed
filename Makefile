# Dingdian POS. `make demo` and `make test` set everything up themselves on a fresh Debian 12.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the venv needs (so `make demo` too): gcc, python3-dev and libpcsclite-dev compile pyscard at
# install (no Linux wheel; swig comes from PyPI); gcc also builds the tests' stand-in regional card library.
BUILD_PACKAGES := gcc python3-dev libpcsclite-dev
# Debian packages the suite drives for real (`make test` installs them besides the build ones): PostgreSQL
# (chain mode), tmux (the till as a person uses it), pcscd + vsmartcard's virtual reader (the card reader's tests).
APT_PACKAGES := postgresql tmux pcscd vsmartcard-vpcd
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test bench lint system system-build venv clean-demo

demo: venv
	$(BIN)/dingdian demo

test: system venv
	$(BIN)/ruff check pos server devices catalog reports tests bench
	$(BIN)/pytest

bench: system venv  # the card benchmark drives pcscd + vpcd, as the tests do
	$(BIN)/python -m bench

lint: venv
	$(BIN)/ruff check pos server devices catalog reports tests bench

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
