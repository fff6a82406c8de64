#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| latch::fuzzing::settings_product(data));
