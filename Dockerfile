# Build stage: compile the release binary against the system SQLite, libpq, OpenSSL and
# xmlsec (SAML signatures; bindgen needs libclang for its bindings).
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev libssl-dev pkg-config \
    libxmlsec1-dev libxml2-dev libclang-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked

# Run stage: the binary and the shared libraries it links, as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 libssl3 libxml2 libxmlsec1 libxmlsec1-openssl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/latch --create-home latch
COPY --from=build /src/target/release/latch /usr/local/bin/latch
USER latch
WORKDIR /var/lib/latch
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=sqlite:///var/lib/latch/latch.db
EXPOSE 8080
ENTRYPOINT ["latch"]
CMD ["serve"]
