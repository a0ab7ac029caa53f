//! One-line, tcpdump-style text for a payload: type and the key fields in words
//! (proposals and transforms with attribute names, VIDs by name, notify names,
//! ID values). Meant for logs and `pix-gateway dump`.

use core::fmt;

use crate::attr::{AttrSpace, AttrValue, Attribute};
use crate::doi::transform_name;
use crate::payload::{Payload, PayloadRef};

fn hex(f: &mut fmt::Formatter<'_>, b: &[u8]) -> fmt::Result {
    for x in b {
        write!(f, "{x:02x}")?;
    }
    Ok(())
}

/// Writes `Name=Value` for one attribute in a number space.
pub fn fmt_attribute(
    f: &mut fmt::Formatter<'_>,
    space: AttrSpace,
    a: &Attribute<'_>,
) -> fmt::Result {
    write!(f, "{}=", space.type_name(a.kind))?;
    if let Some(name) = space.value_name(a) {
        return f.write_str(name);
    }
    match a.value {
        AttrValue::Basic(v) => write!(f, "{v}"),
        AttrValue::Variable(v) => match a.as_u64() {
            Some(n) if v.len() <= 8 && space != AttrSpace::Config => write!(f, "{n}"),
            _ if !v.is_empty() && v.iter().all(|b| b.is_ascii_graphic() || *b == b' ') => {
                write!(f, "\"")?;
                for b in v {
                    write!(f, "{}", char::from(*b))?;
                }
                write!(f, "\"")
            }
            _ => {
                write!(f, "0x")?;
                hex(f, v)
            }
        },
    }
}

fn attrs<'a>(
    f: &mut fmt::Formatter<'_>,
    space: AttrSpace,
    it: impl Iterator<Item = Result<Attribute<'a>, crate::WireError>>,
) -> fmt::Result {
    f.write_str("(")?;
    for (i, a) in it.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        match a {
            Ok(a) => fmt_attribute(f, space, &a)?,
            Err(e) => write!(f, "<{e}>")?,
        }
    }
    f.write_str(")")
}

impl fmt::Display for PayloadRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.short_name())?;
        match &self.body {
            Payload::Sa(sa) => {
                write!(f, " doi={} sit={}", sa.doi.name(), sa.situation)?;
                for p in sa.proposals() {
                    let p = match p {
                        Ok(p) => p,
                        Err(e) => return write!(f, " <{e}>"),
                    };
                    write!(f, " [p#{} {} spi=", p.number, p.protocol.name())?;
                    hex(f, p.spi)?;
                    let space = AttrSpace::for_protocol(p.protocol);
                    for t in p.transforms() {
                        match t {
                            Ok(t) => {
                                write!(
                                    f,
                                    " t#{} {} ",
                                    t.number,
                                    transform_name(p.protocol, t.transform_id)
                                )?;
                                attrs(f, space, t.attributes())?;
                            }
                            Err(e) => write!(f, " <{e}>")?,
                        }
                    }
                    f.write_str("]")?;
                }
                Ok(())
            }
            Payload::KeyExchange(b) => write!(f, " {} bytes", b.len()),
            Payload::Nonce(b) | Payload::Hash(b) | Payload::Signature(b) | Payload::NatD(b) => {
                write!(f, " ")?;
                hex(f, b)
            }
            Payload::Identification(id) => write!(
                f,
                " {} proto={} port={} {}",
                id.id_type.name(),
                id.protocol,
                id.port,
                id.value()
            ),
            Payload::Certificate(c) | Payload::CertificateRequest(c) => {
                write!(f, " {} {} bytes", c.encoding.name(), c.data.len())
            }
            Payload::Notification(n) => {
                write!(
                    f,
                    " {} doi={} proto={} spi=",
                    n.notify_type,
                    n.doi.name(),
                    n.protocol.name()
                )?;
                hex(f, n.spi)?;
                if let Some(seq) = n.dpd_sequence() {
                    write!(f, " seq={seq}")
                } else if !n.data.is_empty() {
                    write!(f, " data=")?;
                    hex(f, n.data)
                } else {
                    Ok(())
                }
            }
            Payload::Delete(d) => {
                write!(f, " doi={} proto={} spis=", d.doi.name(), d.protocol.name())?;
                for (i, s) in d.spis().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    hex(f, s)?;
                }
                Ok(())
            }
            Payload::VendorId(v) => write!(f, " {v}"),
            Payload::Attributes(c) => {
                write!(f, " {} id={} ", c.cfg_type.name(), c.identifier)?;
                attrs(f, AttrSpace::Config, c.attributes())
            }
            Payload::NatOa(o) => match o.addr() {
                Some(a) => write!(f, " {a}"),
                None => {
                    write!(f, " {} ", o.id_type.name())?;
                    hex(f, o.address)
                }
            },
            Payload::Fragment(fr) => write!(
                f,
                " id={} #{}{} {} bytes",
                fr.fragment_id,
                fr.number,
                if fr.is_last() { " last" } else { "" },
                fr.data.len()
            ),
            Payload::Unknown(b) => write!(f, "({}) {} bytes", u8::from(self.kind), b.len()),
        }
    }
}
