//! `declare_keys!`: turns the one list of connection keys (field.rs) into
//! everything that names a key, so that no other code lists them: the
//! `Field` enum (`ALL`, `name`, `needs_uid_mask`, `filter_kind`, `reader`),
//! the `Connection` and `Owner` structs (serde and OpenAPI derive from them),
//! `render`, and `Connection::shown` for the XML-RPC front.
//!
//! One entry per key, a line of the list:
//!
//! ```text
//! /// The key's description in the OpenAPI document.
//! Variant name: Type = |row, ctx| read, filter kind, shown as;
//! ```
//!
//! - `Variant` is the key in `Field`; `name` is the key in the API and the
//!   field of `Connection`, of type `Type`, with the entry's attributes.
//! - `read` is the key's one extractor: its value in a row, allocating only
//!   where the value needs to. What it reads converts into the `Datum` that
//!   filters test and sorting compares (so a key sorts as the kind of value it
//!   reads: numbers, addresses, case-folded texts), through `Field::reader`,
//!   chosen once per query; and into `Type` when a row is rendered
//!   (render.rs).
//! - `filter kind` is the `FilterKind` (filter.rs) its filter values are read as.
//! - `shown as` names the function of `render::shown` giving the `Shown` value
//!   fronts without serde write.
//!
//! The keys of `Owner` exist only when the owner expression gives the row a
//! uid (`--uid-mask`); their reads get that uid and the context. A struct with
//! one field per key cannot come from a list at run time, hence a macro; it is
//! `macro_rules!` so that the entries stay plain Rust to read.

macro_rules! declare_keys {
    (
        $(#[$conn_attr:meta])*
        pub struct Connection {
            $(
                $(#[$attr:meta])*
                $Key:ident $name:ident: $ty:ty = |$row:pat_param, $ctx:pat_param| $read:expr,
                    $filter:expr, $shown:ident;
            )*
        }

        $(#[$owner_field_attr:meta])*
        pub owner: Option<Owner> = |$orow:pat_param, $octx:pat_param| $uid_of:expr;

        $(#[$owner_attr:meta])*
        pub struct Owner {
            $(
                $(#[$oattr:meta])*
                $OKey:ident $oname:ident: $oty:ty = |$uid:pat_param, $uctx:pat_param| $oread:expr,
                    $ofilter:expr, $oshown:ident;
            )*
        }
    ) => {
        /// One key of a connection in the API (docs/xmlrpc-api.md, "Methods"), in its order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Field {
            $(#[doc = concat!("`", stringify!($name), "`")] $Key,)*
            $(#[doc = concat!("`", stringify!($oname), "`")] $OKey,)*
        }

        impl Field {
            /// Every key, in the order a rendered connection lists them.
            pub const ALL: [Field; [$(Field::$Key,)* $(Field::$OKey,)*].len()] =
                [$(Field::$Key,)* $(Field::$OKey,)*];

            /// The key's name in the API.
            pub fn name(self) -> &'static str {
                match self {
                    $(Field::$Key => stringify!($name),)*
                    $(Field::$OKey => stringify!($oname),)*
                }
            }

            /// Whether the key exists only when a uid mask is configured (`--uid-mask`).
            pub fn needs_uid_mask(self) -> bool {
                matches!(self, $(Field::$OKey)|*)
            }

            /// How the key's filter values are read.
            pub(super) fn filter_kind(self) -> $crate::query::filter::FilterKind {
                match self {
                    $(Field::$Key => $filter,)*
                    $(Field::$OKey => $ofilter,)*
                }
            }

            /// The key's reading for one use: a function of a row that hands
            /// the key's value to `U` (`Absent` for an owner's key without a
            /// uid). Chosen once per filter or sort, so a scan calls it per row.
            pub(super) fn reader<U: $crate::query::reader::Use>(
                self,
            ) -> fn(&$crate::Row, &$crate::query::Context) -> U::Out {
                use $crate::query::extract::Datum;
                match self {
                    $(Field::$Key => |row, ctx| {
                        let ($row, $ctx) = (row, ctx);
                        U::of(Datum::from($read))
                    },)*
                    $(Field::$OKey => |row, ctx| {
                        let ($orow, $octx) = (row, ctx);
                        match $uid_of {
                            Some(uid) => {
                                let ($uid, $uctx) = (uid, ctx);
                                U::of(Datum::from($oread))
                            }
                            None => U::of(Datum::Absent),
                        }
                    },)*
                }
            }
        }

        $(#[$conn_attr])*
        // A key's doc comment becomes its OpenAPI description, which the
        // wire test pins: the keys without one are described in
        // docs/xmlrpc-api.md instead.
        #[allow(missing_docs)]
        pub struct Connection {
            $($(#[$attr])* pub $name: $ty,)*
            $(#[$owner_field_attr])*
            pub owner: Option<Owner>,
        }

        $(#[$owner_attr])*
        #[allow(missing_docs)] // as for `Connection`
        pub struct Owner {
            $($(#[$oattr])* pub $oname: $oty,)*
        }

        /// The row as the API shows it at the context's moment.
        pub fn render(row: &$crate::Row, ctx: &$crate::query::Context) -> Connection {
            let owner = {
                let ($orow, $octx) = (row, ctx);
                $uid_of
            };
            Connection {
                $($name: {
                    let ($row, $ctx) = (row, ctx);
                    <$ty>::from($read)
                },)*
                owner: owner.map(|uid| Owner {
                    $($oname: {
                        let ($uid, $uctx) = (uid, ctx);
                        <$oty>::from($oread)
                    },)*
                }),
            }
        }

        impl Connection {
            /// Every key present with its value, in order, for fronts that
            /// write values by kind rather than through serde.
            pub fn shown(
                &self,
            ) -> impl Iterator<Item = (Field, $crate::query::Shown<'_>)> + '_ {
                use $crate::query::render::shown;
                let keys = [$((Field::$Key, shown::$shown(&self.$name)),)*];
                let owner = self.owner.iter().flat_map(|owner| {
                    [$((Field::$OKey, shown::$oshown(&owner.$oname)),)*]
                });
                keys.into_iter().chain(owner)
            }
        }
    };
}

pub(super) use declare_keys;
