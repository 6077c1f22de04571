# Order Desk: `make run` starts the app, `make test` runs the tests. Both install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST := QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

.PHONY: run test test-all test-unit jars bench bench-quick screenshots clean help

help:
	@echo "make run        start Order Desk (creates .venv, installs packages, fetches the Kafka jars)"
	@echo "make test       the test suite without the slow fault tests (what CI runs)"
	@echo "make test-all   every test, including the slow fault tests with full counts"
	@echo "make bench      benchmarks; make bench-quick is a smoke run"
	@echo "make screenshots  refresh docs/screenshots from the real window"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Order Desk needs Python 3.11 or newer; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

jars: $(STAMP)
	$(BIN)/python -m desktop_app.broker

run: jars
	$(BIN)/order-desk

test: jars
	$(PYTEST) -m "not slow"

test-all: jars
	$(PYTEST)

test-unit: $(STAMP)
	$(PYTEST) tests/unit

bench: jars
	$(BIN)/python -m bench.run

bench-quick: jars
	$(BIN)/python -m bench.run --quick

screenshots: jars
	ORDER_DESK_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PYTEST) tests/ui/test_screenshots.py \
	  "tests/ui/test_day_chart.py::test_screenshot_of_the_chart" \
	  "tests/ui/test_history_dialog.py::test_screenshot_of_why_this_row" \
	  "tests/ui/test_event_log_dialog.py"

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
