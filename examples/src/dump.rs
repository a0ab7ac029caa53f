//! `pix-gateway dump`: one line per ISAKMP message in a capture.
//!
//! Every message is summarised into a [`MessageSummary`] first; the text, TSV and
//! JSON renderers all print that one summary, so the three formats never disagree.
//! A malformed message keeps everything that parsed before the fault, and the
//! fault itself (what and at which byte) is part of the summary.

use std::fmt::Write as _;

use isakmp_wire::attr::AttrSpace;
use isakmp_wire::chain::PayloadIter;
use isakmp_wire::doi::transform_name;
use isakmp_wire::payload::id::IdValue;
use isakmp_wire::payload::proposal::Proposal;
use isakmp_wire::{Attribute, Header, Limits, Payload, PayloadType, ProtocolId, HEADER_LEN};
use serde::Serialize;

use crate::capture::{Datagram, Kind};

/// A payload (or a nested proposal / transform) of a message, flattened in wire order.
#[derive(Debug, Clone, Serialize)]
pub struct PayloadSummary {
    /// Payload type number (2 and 3 for nested proposals and transforms).
    pub kind: u8,
    /// Its name.
    pub name: &'static str,
    /// Payload Length field (generic header included).
    pub length: usize,
    /// Offset of the generic header in the ISAKMP message.
    pub offset: usize,
    /// Nesting depth: 0 for top-level payloads, 1 proposals, 2 transforms.
    pub depth: u8,
    /// The key fields in words.
    pub detail: String,
    /// Vendor ID bytes (hex), for VID payloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vid: Option<String>,
    /// Notify message type, for N payloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<u16>,
    /// ID type, for ID payloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_type: Option<u8>,
    /// Mode Config message type, for attribute payloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cfg_type: Option<u8>,
    /// Mode Config attribute types, for attribute payloads.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cfg_attrs: Vec<u16>,
    /// Phase-1 transform attributes (encryption, hash, auth method, group), for ISAKMP transforms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ike: Option<IkeTransform>,
}

/// The phase-1 attributes tshark reports for an ISAKMP transform.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct IkeTransform {
    /// Encryption algorithm.
    pub encryption: Option<u64>,
    /// Hash algorithm.
    pub hash: Option<u64>,
    /// Authentication method.
    pub auth: Option<u64>,
    /// Group description.
    pub group: Option<u64>,
}

/// One ISAKMP message of a capture.
#[derive(Debug, Clone, Serialize)]
pub struct MessageSummary {
    /// 1-based frame number.
    pub frame: u64,
    /// Source address.
    pub src: String,
    /// Destination address.
    pub dst: String,
    /// UDP source port.
    pub sport: u16,
    /// UDP destination port.
    pub dport: u16,
    /// Initiator cookie (hex).
    pub icookie: String,
    /// Responder cookie (hex).
    pub rcookie: String,
    /// Version byte.
    pub version: u8,
    /// Exchange type number.
    pub exchange: u8,
    /// Exchange type name.
    pub exchange_name: &'static str,
    /// Flags byte.
    pub flags: u8,
    /// Message ID.
    pub msgid: u32,
    /// Length field.
    pub length: u32,
    /// True when the body is ciphertext.
    pub encrypted: bool,
    /// The payloads, flattened (empty when encrypted).
    pub payloads: Vec<PayloadSummary>,
    /// Bytes of the datagram that are not part of the message, or of the chain.
    pub trailing: usize,
    /// What stopped the parse, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A datagram on the IKE ports that is not an ISAKMP message.
#[derive(Debug, Clone, Serialize)]
pub struct OtherSummary {
    /// 1-based frame number.
    pub frame: u64,
    /// Source address.
    pub src: String,
    /// Destination address.
    pub dst: String,
    /// UDP source port.
    pub sport: u16,
    /// UDP destination port.
    pub dport: u16,
    /// "nat-keepalive", "esp-in-udp" or "runt".
    pub kind: &'static str,
    /// Header-level error when an ISAKMP header could not be read at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// UDP payload length.
    pub length: usize,
}

/// What `dump` prints for each datagram.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Line {
    /// An ISAKMP message (possibly partially parsed).
    Message(MessageSummary),
    /// Anything else on the IKE ports.
    Other(OtherSummary),
}

/// Summarises one datagram.
pub fn summarise(d: &Datagram) -> Line {
    let other = |kind, error| {
        Line::Other(OtherSummary {
            frame: d.frame,
            src: d.src.to_string(),
            dst: d.dst.to_string(),
            sport: d.sport,
            dport: d.dport,
            kind,
            error,
            length: d.payload.len(),
        })
    };
    match d.kind {
        Kind::NatKeepalive => return other("nat-keepalive", None),
        Kind::EspInUdp => return other("esp-in-udp", None),
        Kind::Runt => return other("runt", None),
        Kind::Isakmp => {}
    }
    let header = match Header::parse(&d.payload) {
        Ok(h) => h,
        Err(e) => return other("isakmp", Some(e.to_string())),
    };
    let mut m = MessageSummary {
        frame: d.frame,
        src: d.src.to_string(),
        dst: d.dst.to_string(),
        sport: d.sport,
        dport: d.dport,
        icookie: hex::encode(header.initiator_cookie),
        rcookie: hex::encode(header.responder_cookie),
        version: header.version,
        exchange: header.exchange_type.into(),
        exchange_name: header.exchange_type.name(),
        flags: header.flags.0,
        msgid: header.message_id,
        length: header.length,
        encrypted: header.flags.encrypted(),
        payloads: Vec::new(),
        trailing: 0,
        error: None,
    };
    // Validate the whole message the way a peer would; keep the error, then walk
    // as far as possible to show what did parse.
    if let Err(e) = isakmp_wire::Message::parse(&d.payload) {
        m.error = Some(e.to_string());
    }
    let len = usize::try_from(header.length).unwrap_or(usize::MAX);
    let end = len.min(d.payload.len());
    m.trailing = d.payload.len().saturating_sub(len);
    if m.encrypted || end < HEADER_LEN {
        return Line::Message(m);
    }
    let body = d.payload.get(HEADER_LEN..end).unwrap_or(&[]);
    let limits = Limits::DEFAULT;
    let mut walk = PayloadIter::new(header.next_payload, body, HEADER_LEN, &limits);
    for raw in walk.by_ref() {
        let raw = match raw {
            Ok(r) => r,
            Err(e) => {
                m.error.get_or_insert_with(|| e.to_string());
                break;
            }
        };
        let kind: u8 = raw.kind.into();
        let mut p = PayloadSummary {
            kind,
            name: short_name(raw.kind),
            length: usize::from(raw.length),
            offset: raw.offset,
            depth: 0,
            detail: String::new(),
            vid: None,
            notify: None,
            id_type: None,
            cfg_type: None,
            cfg_attrs: Vec::new(),
            ike: None,
        };
        let parsed = match raw.parse_body(&limits) {
            Ok(parsed) => parsed,
            Err(e) => {
                p.detail = format!("malformed: {e}");
                m.payloads.push(p);
                m.error.get_or_insert_with(|| e.to_string());
                break;
            }
        };
        let mut nested = Vec::new();
        describe(&parsed.body, &mut p, &mut nested);
        m.payloads.push(p);
        m.payloads.extend(nested);
    }
    m.trailing = m.trailing.saturating_add(walk.remainder().len());
    Line::Message(m)
}

fn short_name(t: PayloadType) -> &'static str {
    match u8::from(t) {
        1 => "SA",
        2 => "P",
        3 => "T",
        4 => "KE",
        5 => "ID",
        6 => "CERT",
        7 => "CR",
        8 => "HASH",
        9 => "SIG",
        10 => "NONCE",
        11 => "N",
        12 => "D",
        13 => "VID",
        14 => "ATTR",
        20 | 130 => "NAT-D",
        21 | 131 => "NAT-OA",
        132 => "FRAG",
        _ => "?",
    }
}

fn describe(body: &Payload<'_>, p: &mut PayloadSummary, nested: &mut Vec<PayloadSummary>) {
    let d = &mut p.detail;
    match body {
        Payload::Sa(sa) => {
            let _ = write!(d, "doi={} situation={:#x}", sa.doi.name(), sa.situation);
            for prop in sa.proposals() {
                match prop {
                    Ok(prop) => proposal(&prop, nested),
                    Err(e) => {
                        let _ = write!(d, " malformed proposal: {e}");
                        break;
                    }
                }
            }
        }
        Payload::KeyExchange(v) => {
            let _ = write!(d, "{} bytes", v.len());
        }
        Payload::Identification(id) => {
            p.id_type = Some(id.id_type.into());
            let _ = write!(d, "{} ", id.id_type.name());
            let _ = match id.value() {
                IdValue::Ipv4(a) => write!(d, "{a}"),
                IdValue::Ipv4Subnet(a, m) => write!(d, "{a}/{m}"),
                IdValue::Ipv4Range(a, b) => write!(d, "{a}-{b}"),
                IdValue::Ipv6(a) => write!(d, "{a}"),
                IdValue::Ipv6Subnet(a, m) => write!(d, "{a}/{m}"),
                IdValue::Ipv6Range(a, b) => write!(d, "{a}-{b}"),
                IdValue::Fqdn(v) | IdValue::UserFqdn(v) | IdValue::KeyId(v) => {
                    write!(d, "{:?}", String::from_utf8_lossy(v))
                }
                _ => write!(d, "{} bytes", id.data.len()),
            };
            if id.protocol != 0 || id.port != 0 {
                let _ = write!(d, " proto={} port={}", id.protocol, id.port);
            }
        }
        Payload::Certificate(c) | Payload::CertificateRequest(c) => {
            let _ = write!(d, "encoding={} {} bytes", c.encoding, c.data.len());
        }
        Payload::Hash(v) | Payload::Signature(v) | Payload::Nonce(v) | Payload::NatD(v) => {
            let _ = write!(d, "{} bytes", v.len());
        }
        Payload::Notification(n) => {
            p.notify = Some(n.notify_type.into());
            let _ = write!(d, "{} ({})", n.notify_type.name(), u16::from(n.notify_type));
            if n.protocol != ProtocolId::Reserved {
                let _ = write!(d, " proto={}", n.protocol.name());
            }
            if !n.spi.is_empty() {
                let _ = write!(d, " spi={}", hex::encode(n.spi));
            }
            if let Some(seq) = n.dpd_sequence() {
                let _ = write!(d, " seq={seq}");
            } else if !n.data.is_empty() {
                let _ = write!(d, " data={} bytes", n.data.len());
            }
        }
        Payload::Delete(del) => {
            let _ = write!(d, "proto={} spis=", del.protocol.name());
            let spis: Vec<String> = del.spis().map(hex::encode).collect();
            d.push_str(&spis.join(","));
        }
        Payload::VendorId(v) => {
            p.vid = Some(hex::encode(v.bytes()));
            match v.known() {
                Some(known) => {
                    let _ = write!(d, "{known}");
                }
                None => {
                    let _ = write!(d, "{}", hex::encode(v.bytes()));
                }
            }
        }
        Payload::Attributes(cfg) => {
            p.cfg_type = Some(cfg.cfg_type.into());
            let _ = write!(d, "{} id={}", cfg.cfg_type.name(), cfg.identifier);
            for a in cfg.attributes() {
                match a {
                    Ok(a) => {
                        p.cfg_attrs.push(a.kind);
                        d.push(' ');
                        attribute(d, AttrSpace::Config, &a);
                    }
                    Err(e) => {
                        let _ = write!(d, " malformed: {e}");
                        break;
                    }
                }
            }
        }
        Payload::NatOa(oa) => {
            let _ = match oa.addr() {
                Some(a) => write!(d, "{a}"),
                None => write!(d, "id type {}", oa.id_type),
            };
        }
        Payload::Fragment(f) => {
            let _ = write!(
                d,
                "id={} seq={}{}",
                f.fragment_id,
                f.number,
                if f.is_last() { " last" } else { "" }
            );
        }
        Payload::Unknown(v) => {
            let _ = write!(d, "{} bytes", v.len());
        }
    }
}

fn proposal(prop: &Proposal<'_>, out: &mut Vec<PayloadSummary>) {
    let mut detail = format!(
        "#{} {} #tr={}",
        prop.number,
        prop.protocol.name(),
        prop.transform_count
    );
    if !prop.spi.is_empty() {
        let _ = write!(detail, " spi={}", hex::encode(prop.spi));
    }
    let at = out.len();
    out.push(PayloadSummary {
        kind: 2,
        name: "P",
        length: prop.wire_len(),
        offset: prop.offset,
        depth: 1,
        detail,
        vid: None,
        notify: None,
        id_type: None,
        cfg_type: None,
        cfg_attrs: Vec::new(),
        ike: None,
    });
    let space = AttrSpace::for_protocol(prop.protocol);
    for t in prop.transforms() {
        let t = match t {
            Ok(t) => t,
            Err(e) => {
                if let Some(p) = out.get_mut(at) {
                    let _ = write!(p.detail, " malformed transform: {e}");
                }
                return;
            }
        };
        let mut detail = format!(
            "#{} {}",
            t.number,
            transform_name(prop.protocol, t.transform_id)
        );
        let mut ike = IkeTransform::default();
        for a in t.attributes().flatten() {
            detail.push(' ');
            attribute(&mut detail, space, &a);
            if space == AttrSpace::Phase1 {
                let v = a.as_u64();
                match a.kind {
                    1 => ike.encryption = v,
                    2 => ike.hash = v,
                    3 => ike.auth = v,
                    4 => ike.group = v,
                    _ => {}
                }
            }
        }
        out.push(PayloadSummary {
            kind: 3,
            name: "T",
            length: t.wire_len(),
            offset: t.offset,
            depth: 2,
            detail,
            vid: None,
            notify: None,
            id_type: None,
            cfg_type: None,
            cfg_attrs: Vec::new(),
            ike: (space == AttrSpace::Phase1).then_some(ike),
        });
    }
}

fn attribute(out: &mut String, space: AttrSpace, a: &Attribute<'_>) {
    let name = space.type_name(a.kind);
    let _ = if name == "Unknown" {
        write!(out, "attr{}=", a.kind)
    } else {
        write!(out, "{name}=")
    };
    if let Some(v) = space.value_name(a) {
        out.push_str(v);
    } else if let Some(n) = a.as_u64() {
        let _ = write!(out, "{n}");
    } else if let Some(b) = a.bytes() {
        if b.is_empty() {
            out.push_str("(empty)");
        } else if b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') && space == AttrSpace::Config
        {
            let _ = write!(out, "{:?}", String::from_utf8_lossy(b));
        } else {
            out.push_str(&hex::encode(b));
        }
    }
}

/// Renders a line as text, tcpdump style.
pub fn text(line: &Line) -> String {
    match line {
        Line::Other(o) => {
            let mut s = format!(
                "{:>5} {}:{} > {}:{} {} len={}",
                o.frame, o.src, o.sport, o.dst, o.dport, o.kind, o.length
            );
            if let Some(e) = &o.error {
                let _ = write!(s, " error: {e}");
            }
            s
        }
        Line::Message(m) => {
            let mut s = format!(
                "{:>5} {}:{} > {}:{} isakmp {}.{} {} I={} R={} flags=[{}] msgid={:08x} len={}",
                m.frame,
                m.src,
                m.sport,
                m.dst,
                m.dport,
                m.version >> 4,
                m.version & 0xf,
                m.exchange_name,
                m.icookie,
                m.rcookie,
                flag_words(m.flags),
                m.msgid,
                m.length
            );
            if m.encrypted {
                s.push_str(": [encrypted]");
            } else {
                s.push(':');
                // Nested proposals and transforms print inside their SA's parentheses.
                let mut open: Vec<u8> = Vec::new();
                for p in &m.payloads {
                    while open.last().is_some_and(|d| *d >= p.depth) {
                        s.push(')');
                        open.pop();
                    }
                    let _ = write!(s, " {}({}", p.name, p.detail);
                    if (p.depth == 0 && p.kind == 1) || p.depth == 1 {
                        s.push(':');
                        open.push(p.depth);
                    } else {
                        s.push(')');
                    }
                }
                for _ in open {
                    s.push(')');
                }
            }
            if m.trailing > 0 {
                let _ = write!(s, " [+{} trailing]", m.trailing);
            }
            if let Some(e) = &m.error {
                let _ = write!(s, " [error: {e}]");
            }
            s
        }
    }
}

fn flag_words(f: u8) -> String {
    let mut w = Vec::new();
    if f & 1 != 0 {
        w.push("E");
    }
    if f & 2 != 0 {
        w.push("C");
    }
    if f & 4 != 0 {
        w.push("A");
    }
    w.join(",")
}

/// The columns of `../shared/corpus/tshark-oracle/*.tsv`, in order.
pub const TSV_FIELDS: &[&str] = &[
    "frame.number",
    "udp.srcport",
    "udp.dstport",
    "isakmp.ispi",
    "isakmp.rspi",
    "isakmp.version",
    "isakmp.exchangetype",
    "isakmp.flags",
    "isakmp.messageid",
    "isakmp.length",
    "isakmp.typepayload",
    "isakmp.payloadlength",
    "isakmp.vid_bytes",
    "isakmp.notify.msgtype",
    "isakmp.ike.attr.encryption_algorithm",
    "isakmp.ike.attr.hash_algorithm",
    "isakmp.ike.attr.authentication_method",
    "isakmp.ike.attr.group_description",
    "isakmp.id.type",
    "isakmp.cfg.type",
    "isakmp.cfg.attr.type",
];

/// Renders a message as one TSV row in tshark's field formats; `None` for non-ISAKMP lines.
pub fn tsv(line: &Line) -> Option<String> {
    let Line::Message(m) = line else { return None };
    fn join<T: ToString>(it: impl Iterator<Item = T>) -> String {
        it.map(|v| v.to_string()).collect::<Vec<_>>().join(",")
    }
    let ps = &m.payloads;
    let ike = |f: fn(&IkeTransform) -> Option<u64>| {
        join(ps.iter().filter_map(|p| p.ike.as_ref().and_then(f)))
    };
    let cols = [
        m.frame.to_string(),
        m.sport.to_string(),
        m.dport.to_string(),
        m.icookie.clone(),
        m.rcookie.clone(),
        format!("{:#04x}", m.version),
        m.exchange.to_string(),
        format!("{:#04x}", m.flags),
        format!("{:#010x}", m.msgid),
        m.length.to_string(),
        join(ps.iter().map(|p| p.kind)),
        join(ps.iter().map(|p| p.length)),
        join(ps.iter().filter_map(|p| p.vid.clone())),
        join(ps.iter().filter_map(|p| p.notify)),
        ike(|t| t.encryption),
        ike(|t| t.hash),
        ike(|t| t.auth),
        ike(|t| t.group),
        join(ps.iter().filter_map(|p| p.id_type)),
        join(ps.iter().filter_map(|p| p.cfg_type)),
        join(ps.iter().flat_map(|p| p.cfg_attrs.iter().copied())),
    ];
    Some(cols.join("\t"))
}
