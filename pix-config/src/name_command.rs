//! `name ip_address name [description text]` (and `names` / `no names`, which are
//! plain [`Command::Names`](crate::Command::Names)).

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::ident::Ident;
use crate::lexer::{is_name_token, Cur, PErr};

/// `name 10.1.1.1 webserver [description ...]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The address the name stands for.
    pub address: Ipv4Addr,
    /// The name (up to 63 characters, starts with a letter).
    pub name: Ident,
    /// Optional description.
    pub description: Option<String>,
}

pub(crate) fn parse_name(cur: &mut Cur<'_, '_>) -> Result<Name, PErr> {
    let address = cur.ip("an IP address")?;
    match cur.peek() {
        Some(t) if is_name_token(t) && t.len() <= 63 => {}
        _ => return Err(cur.expected("a name (starting with a letter, at most 63 characters)")),
    }
    let name = cur.ident("a name")?;
    let description = if cur.eat("description") {
        Some(cur.rest().to_owned())
    } else {
        None
    };
    cur.finish("name")?;
    Ok(Name {
        address,
        name,
        description,
    })
}

impl Name {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "name {} {}", self.address, self.name);
        if let Some(d) = &self.description {
            let _ = write!(out, " description {d}");
        }
    }
}
