//! Unsigned 32-bit quantities (connection ids, marks, IPv4 addresses as
//! integers) as 32-bit clients send them: PHP and `ip2long()` wrap values of
//! 2^31 and more into negative ints, so -1561989833 means 2732977463.

/// `n` as a u32: 0..=u32::MAX as it is, and i32's negative range read as its
/// two's complement. Anything else is out of range.
pub fn read(n: i64) -> Option<u32> {
    match u32::try_from(n) {
        Ok(v) => Some(v),
        // i32 → u32 reinterprets the bits: exactly the wrap the client did.
        Err(_) => i32::try_from(n).ok().map(|v| v as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::read;

    #[test]
    fn wrapped_negatives_come_back() {
        assert_eq!(read(-1_561_989_833), Some(2_732_977_463));
        assert_eq!(read(-1), Some(u32::MAX));
        assert_eq!(read(i64::from(i32::MIN)), Some(1 << 31));
        assert_eq!(read(0), Some(0));
        assert_eq!(read(4_294_967_295), Some(u32::MAX));
        assert_eq!(read(4_294_967_296), None);
        assert_eq!(read(i64::from(i32::MIN) - 1), None);
    }
}
