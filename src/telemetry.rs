//! Logging: `RUST_LOG` filters (default `info`); `LOG_FORMAT=json` for machine-read logs.
//!
//! A log line is one line whatever it quotes: text from a request or a provider cannot
//! start a line of its own (`OneLine`), and a request's span names its path without the
//! query string (an OAuth callback's carries the authorization code and `state`).

use std::io::{self, Write};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Starts logging with `RUST_LOG` and `LOG_FORMAT` as `env` gives them (the process
/// environment over `.env`).
pub fn init_from(env: &std::collections::HashMap<String, String>, default_filter: &str) {
    let filter = env
        .get("RUST_LOG")
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default_filter));
    let json = env
        .get("LOG_FORMAT")
        .is_some_and(|v| v.eq_ignore_ascii_case("json"));
    start(filter, json);
}

/// Starts logging with `RUST_LOG` and `LOG_FORMAT` from the process environment.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    start(filter, json);
}

fn start(filter: EnvFilter, json: bool) {
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::stderr().is_terminal())
        .with_writer(OneLine);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Standard error, one line per event: a line break inside an event (a provider's error
/// text, a header a client sent) is written as `\n`, so nobody can forge a line of the
/// log by putting one in what gets logged. Both formats write an event in one call.
pub struct OneLine;

impl<'a> MakeWriter<'a> for OneLine {
    type Writer = OneLineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter
    }
}

pub struct OneLineWriter;

impl Write for OneLineWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let escaped = one_line(buf);
        io::stderr().lock().write_all(&escaped)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// `buf` with every CR and LF but a final LF written as `\r` and `\n`.
pub fn one_line(buf: &[u8]) -> Vec<u8> {
    let (body, end) = match buf.split_last() {
        Some((b'\n', body)) => (body, &b"\n"[..]),
        _ => (buf, &b""[..]),
    };
    let mut out = Vec::with_capacity(buf.len() + 8);
    for &b in body {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
    out.extend_from_slice(end);
    out
}

/// Each request's span: its method and path, never its query string.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        tracing::info_span!(
            "request",
            http.method = %request.method(),
            http.path = %request.path(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn an_event_stays_on_one_line() {
        assert_eq!(one_line(b"a\nb\r\nc\n"), b"a\\nb\\r\\nc\n".to_vec());
        assert_eq!(one_line(b"plain\n"), b"plain\n".to_vec());
        assert_eq!(one_line(b"no end"), b"no end".to_vec());
    }
}
