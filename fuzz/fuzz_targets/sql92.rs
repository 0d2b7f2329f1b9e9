//! Arbitrary text as an SQL92 selector (`MessageSelector.bySql`), and what
//! follows its first NUL byte as the record properties it is evaluated on:
//! refusals are fine, panics and stack overflows are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skylark_broker::sql92::Selector;

fuzz_target!(|data: &[u8]| {
    let (expression, properties) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    let expression = String::from_utf8_lossy(expression);
    if let Ok(selector) = Selector::compile(&expression) {
        let _ = selector.matches(properties);
    }
});
