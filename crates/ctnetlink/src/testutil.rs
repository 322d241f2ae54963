//! Helpers shared by the unit tests of this crate.

/// Bytes from a hex string (captured datagrams are kept as hex in the tests).
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex at {i}")))
        .collect()
}
