# Build stage: compile the release binary against the system SQLite, libpq, OpenSSL and
# xmlsec (SAML signatures; bindgen needs libclang for its bindings).
FROM rust:1-bookworm AS build
# Debian's packages unpinned: the release's security updates are wanted.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev libssl-dev pkg-config \
    libxmlsec1-dev libxml2-dev libclang-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked

# Run stage: the binary and the shared libraries it links, as an unprivileged user.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 libssl3 libxml2 libxmlsec1 libxmlsec1-openssl ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/latch --create-home latch
COPY --from=build /src/target/release/latch /usr/local/bin/latch
USER 10001
WORKDIR /var/lib/latch
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=sqlite:///var/lib/latch/latch.db
EXPOSE 8080
# Ready: the database answers and the schema is current.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["sh", "-c", "curl -fsS \"http://127.0.0.1:${PORT}/readyz\" >/dev/null"]
ENTRYPOINT ["latch"]
CMD ["serve"]
