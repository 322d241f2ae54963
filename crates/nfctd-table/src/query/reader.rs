//! `Reader`: a key's reading for one use (a filter's test, a sort key),
//! chosen once per query, so that a scan calls one small function per row:
//! it neither picks the key again nor builds and takes apart a `Datum`.

use std::fmt;
use std::net::IpAddr;

use super::extract::Datum;
use super::{Context, Field};
use crate::Row;

/// One use of a key's value: what it makes of the `Datum` the key reads.
/// `of` is inlined into each key's reader (`Field::reader`), where the kind
/// of value is known, so the `Datum` is gone from the compiled code.
pub(super) trait Use {
    type Out;
    fn of(value: Datum) -> Self::Out;
}

/// A key's reading for one use, chosen once per filter or sort.
pub(super) struct Reader<U: Use> {
    pub field: Field,
    read: fn(&Row, &Context) -> U::Out,
}

impl<U: Use> Reader<U> {
    pub(super) fn new(field: Field) -> Reader<U> {
        Reader {
            field,
            read: field.reader::<U>(),
        }
    }

    pub(super) fn read(&self, row: &Row, ctx: &Context) -> U::Out {
        (self.read)(row, ctx)
    }
}

impl<U: Use> Clone for Reader<U> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<U: Use> Copy for Reader<U> {}

impl<U: Use> fmt::Debug for Reader<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Reader").field(&self.field).finish()
    }
}

/// The value itself.
pub(super) struct AsDatum;

impl Use for AsDatum {
    type Out = Datum;

    #[inline(always)]
    fn of(value: Datum) -> Datum {
        value
    }
}

// The uses filters make: one kind of value, `None` for a key of another
// kind (and for `uid` without a uid mask).
macro_rules! one_kind {
    ($($(#[$doc:meta])* $Use:ident: $Variant:ident($T:ty);)*) => {$(
        $(#[$doc])*
        pub(super) struct $Use;

        impl Use for $Use {
            type Out = Option<$T>;

            #[inline(always)]
            fn of(value: Datum) -> Option<$T> {
                match value {
                    Datum::$Variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    )*};
}

one_kind! {
    /// The address of an address key.
    AsAddr: Addr(IpAddr);
    /// The number of an integer key.
    AsInt: Int(u64);
    /// The value of a floating-point key.
    AsNumber: Float(f64);
}

impl Field {
    /// The key's value in `row`, for uses outside a scan.
    pub(super) fn datum(self, row: &Row, ctx: &Context) -> Datum {
        (self.reader::<AsDatum>())(row, ctx)
    }
}
