//! The `wire_enum!` macro: an open registry of wire numbers.
//!
//! Each registry becomes an enum with one variant per known number and an
//! `Unknown(n)` arm, so any number survives parse -> emit unchanged. The macro
//! derives `From<repr>` both ways, `name()` (the words Wireshark and the RFCs use)
//! and `Display` (`name (number)`).

/// Declares an open registry enum. See the module docs.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A number this registry does not name; kept so it round-trips.
            Unknown($repr),
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                match v {
                    $( $value => $name::$variant, )*
                    n => $name::Unknown(n),
                }
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> $repr {
                match v {
                    $( $name::$variant => $value, )*
                    $name::Unknown(n) => n,
                }
            }
        }

        impl $name {
            /// The wire number.
            pub fn number(self) -> $repr {
                <$repr>::from(self)
            }

            /// The name Wireshark and the RFCs use ("Unknown" for unnamed numbers).
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Unknown(_) => "Unknown",
                }
            }

            /// True unless this is `Unknown(n)`.
            pub fn is_known(self) -> bool {
                !matches!(self, $name::Unknown(_))
            }

            /// Every named value, in registry order.
            pub const KNOWN: &'static [$name] = &[ $( $name::$variant, )* ];
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{} ({})", self.name(), self.number())
            }
        }
    };
}

pub(crate) use wire_enum;
