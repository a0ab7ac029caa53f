//! DES and 3DES block ciphers (placeholder: the `des` crate).
pub(crate) use des::Des as DesFast;
pub(crate) use des::TdesEde3 as TdesFast;
