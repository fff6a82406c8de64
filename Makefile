# The two commands a newcomer needs: `make run` and `make test`.

CARGO ?= cargo

.PHONY: run test build release openapi bench lint fmt ci clean

## Serve on http://127.0.0.1:8080 with SQLite (latch.db in this directory).
## COOKIE_SECURE=false lets the refresh cookie travel over plain HTTP on loopback.
run:
	COOKIE_SECURE=$${COOKIE_SECURE:-false} $(CARGO) run -- serve

## Unit and integration tests, on SQLite and on PostgreSQL (found or started by
## scripts/with-postgres), with a real SMTP server (aiosmtpd, installed into
## target/test-venv on first use) and real identity providers (Node.js packages,
## installed into tests/providers/node_modules on first use).
TEST_VENV := target/test-venv
PROVIDERS := tests/providers
test: $(TEST_VENV)/.ready $(PROVIDERS)/node_modules/.ready chromium
	LATCH_TEST_PYTHON=$(TEST_VENV)/bin/python scripts/with-postgres scripts/with-redis $(CARGO) test --all-targets

$(PROVIDERS)/node_modules/.ready: $(PROVIDERS)/package-lock.json
	@command -v node >/dev/null || { echo "make test: Node.js (node, npm) is needed for the identity-provider tests" >&2; exit 1; }
	cd $(PROVIDERS) && npm ci --no-audit --no-fund
	touch $@

$(TEST_VENV)/.ready: Makefile
	python3 -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install --quiet --disable-pip-version-check aiosmtpd==1.4.6 selenium==4.51.0
	touch $@

## Headless Chromium and its WebDriver, from Debian's packages (the browser tests drive them).
.PHONY: chromium
chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "make test: installing chromium and chromium-driver"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
			|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }; \
		else \
			echo "make test: /usr/bin/chromium and /usr/bin/chromedriver are needed (Debian: apt-get install chromium chromium-driver)" >&2; exit 1; \
		fi; \
	fi

build:
	$(CARGO) build

release:
	$(CARGO) build --release

## Regenerate the committed OpenAPI document.
openapi:
	$(CARGO) run --quiet -- openapi > openapi/openapi.json

## Latency of sign-in and refresh round trips against a release build.
bench:
	$(CARGO) build --release
	scripts/bench target/release/latch

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

ci: lint test

clean:
	$(CARGO) clean
