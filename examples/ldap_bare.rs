//! The bare cost of a directory sign-in, the baseline of `make bench-ldap`: what a minimal
//! client does for one (a search through a service-bound connection, then a bind as the
//! entry found), from concurrent workers, with nothing else.
//!
//! Usage: ldap_bare URL BASE BIND_DN BIND_PASSWORD USERS CONCURRENCY SECONDS
//! (people `u0`…`u{USERS-1}`, addresses `uN@example.com`, passwords `pw-uN`). Prints one
//! JSON line: sign-ins, per second, p50 and p99 in milliseconds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3::{LdapConnAsync, Scope, SearchEntry};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, base, bind_dn, bind_pw, users, concurrency, seconds] = args.as_slice() else {
        eprintln!("usage: ldap_bare URL BASE BIND_DN BIND_PASSWORD USERS CONCURRENCY SECONDS");
        std::process::exit(2);
    };
    let users: usize = users.parse().expect("USERS");
    let concurrency: usize = concurrency.parse().expect("CONCURRENCY");
    let until = Instant::now() + Duration::from_secs(seconds.parse().expect("SECONDS"));
    let (conn, mut service) = LdapConnAsync::new(url).await.expect("connect");
    ldap3::drive!(conn);
    service
        .simple_bind(bind_dn, bind_pw)
        .await
        .and_then(|r| r.success())
        .expect("service bind");
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (mut search, next, url, base) =
            (service.clone(), next.clone(), url.clone(), base.clone());
        workers.push(tokio::spawn(async move {
            let (conn, mut binds) = LdapConnAsync::new(&url).await.expect("connect");
            ldap3::drive!(conn);
            let mut took = Vec::new();
            while Instant::now() < until {
                let i = next.fetch_add(1, Ordering::Relaxed) % users;
                let started = Instant::now();
                let (entries, _) = search
                    .search(
                        &base,
                        Scope::Subtree,
                        &format!("(mail=u{i}@example.com)"),
                        vec!["uid", "mail", "cn"],
                    )
                    .await
                    .and_then(|r| r.success())
                    .expect("search");
                let entry = SearchEntry::construct(entries.into_iter().next().expect("one entry"));
                let bound = binds
                    .simple_bind(&entry.dn, &format!("pw-u{i}"))
                    .await
                    .expect("bind");
                assert_eq!(bound.rc, 0, "bind as {}", entry.dn);
                took.push(started.elapsed());
            }
            took
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.expect("worker"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let at =
        |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{{\"signins\":{},\"per_s\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3}}}",
        all.len(),
        all.len() as f64 / elapsed,
        at(0.5),
        at(0.99)
    );
}
