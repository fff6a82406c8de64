//! Every input in the committed fuzz corpora (`fuzz/corpus/<target>/`), replayed through
//! its target on the stable toolchain: what a fuzzer once found stays a regression test.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut n = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        run(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n > 0, "the corpus of {target} is empty");
}

macro_rules! corpora {
    ($($target:ident),* $(,)?) => {$(
        #[test]
        fn $target() {
            replay(stringify!($target), latch::fuzzing::$target);
        }
    )*};
}

corpora!(
    access_token,
    opaque_token,
    request_headers,
    settings_product,
    email,
    json_bodies,
    oauth_callback,
    saml_response,
);
