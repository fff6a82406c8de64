#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| latch::fuzzing::access_token(data));
