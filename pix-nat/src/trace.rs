//! The explanation of a verdict, phase by phase, in the manner of the ASA
//! `packet-tracer` (which PIX 6.3 did not have; the phases name what 6.3 does).

use std::fmt::Write as _;

/// The kind of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum PhaseKind {
    /// Existing connection lookup.
    FlowLookup,
    /// Destination un-translation (static, xlate, nat 0 access-list).
    UnNat,
    /// Egress interface by route.
    RouteLookup,
    /// Security levels of input and output.
    SecurityLevel,
    /// Decrypted traffic bypassing ACLs (`sysopt connection permit-ipsec`).
    IpsecBypass,
    /// Inbound access-list (`access-group`).
    AccessList,
    /// Conduits.
    Conduit,
    /// Authentication / accounting.
    Aaa,
    /// Source translation.
    Nat,
    /// Source exempt from translation (`nat 0 access-list`).
    NatExempt,
    /// New connection.
    FlowCreation,
}

impl PhaseKind {
    /// The packet-tracer type name.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseKind::FlowLookup => "FLOW-LOOKUP",
            PhaseKind::UnNat => "UN-NAT",
            PhaseKind::RouteLookup => "ROUTE-LOOKUP",
            PhaseKind::SecurityLevel => "SECURITY-LEVEL",
            PhaseKind::IpsecBypass => "IPSEC-BYPASS",
            PhaseKind::AccessList => "ACCESS-LIST",
            PhaseKind::Conduit => "CONDUIT",
            PhaseKind::Aaa => "AAA",
            PhaseKind::Nat => "NAT",
            PhaseKind::NatExempt => "NAT-EXEMPT",
            PhaseKind::FlowCreation => "FLOW-CREATION",
        }
    }
}

/// The result of one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum PhaseResult {
    /// The packet goes on.
    Allow,
    /// The packet stops here.
    Drop,
    /// The connection waits for the user to authenticate (cut-through prompt).
    AuthRequired,
}

impl PhaseResult {
    /// `ALLOW` / `DROP` / `AUTH-REQUIRED`.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseResult::Allow => "ALLOW",
            PhaseResult::Drop => "DROP",
            PhaseResult::AuthRequired => "AUTH-REQUIRED",
        }
    }
}

/// A configuration line that decided a phase.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConfigRef {
    /// 1-based line in the configuration text (0 for an implicit rule).
    pub line: u32,
    /// The command as `show run` prints it, or the implicit rule's description.
    pub text: String,
}

/// One phase.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Phase {
    /// Type.
    pub kind: PhaseKind,
    /// Subtype (`static`, `dynamic`, `nat-exempt`, `log`, ...), may be empty.
    pub subtype: String,
    /// Result.
    pub result: PhaseResult,
    /// Deciding configuration lines.
    pub config: Vec<ConfigRef>,
    /// Additional information.
    pub info: Vec<String>,
}

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum DropReason {
    /// The input interface is not configured.
    UnknownInterface,
    /// No route to the destination.
    NoRoute,
    /// The route leads back out the input interface.
    SameInterface,
    /// The destination is the PIX itself (not a through connection).
    ToTheBox,
    /// Equal security levels.
    SameSecurityLevel,
    /// Lower to higher without a static or nat 0 access-list.
    NoStatic,
    /// Denied by an access-list entry or its implicit deny.
    AclDrop,
    /// No conduit permits it.
    ConduitDrop,
    /// A TCP packet without a connection that is not a SYN.
    TcpNotSyn,
    /// Service cannot prompt and the source has no authenticated user.
    AuthRequired,
    /// No `nat` line covers the source.
    NoTranslationGroup,
    /// The `nat` id has no `global` on the egress interface.
    NoGlobal,
    /// Every global address and PAT port of the id is in use.
    PoolExhausted,
}

impl DropReason {
    /// The drop-reason line, packet-tracer style.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::UnknownInterface => "(no-interface) Input interface is not configured",
            DropReason::NoRoute => "(no-route) No route to host",
            DropReason::SameInterface => {
                "(same-interface) Route leads back out the input interface"
            }
            DropReason::ToTheBox => {
                "(to-the-box) Destination is the firewall itself, not a through connection"
            }
            DropReason::SameSecurityLevel => {
                "(same-security) Interfaces of equal security level pass no traffic"
            }
            DropReason::NoStatic => {
                "(no-static) Lower to higher security needs a static or nat 0 access-list"
            }
            DropReason::AclDrop => "(acl-drop) Flow is denied by configured rule",
            DropReason::ConduitDrop => "(conduit-drop) No conduit permits the flow",
            DropReason::TcpNotSyn => "(tcp-not-syn) First TCP packet not SYN",
            DropReason::AuthRequired => {
                "(aaa-drop) Authentication required and the service cannot prompt"
            }
            DropReason::NoTranslationGroup => "(no-xlate-group) No translation group found",
            DropReason::NoGlobal => "(no-global) NAT id has no global on the egress interface",
            DropReason::PoolExhausted => "(nat-xlate-failed) Global pool exhausted",
        }
    }
}

/// What happens to the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Action {
    /// Forwarded.
    Allow,
    /// Dropped.
    Drop(DropReason),
    /// Held: the PIX prompts the user (cut-through proxy) against `server`; the
    /// connection proceeds once the user is in the uauth table.
    Authenticate {
        /// The AAA server group.
        server: String,
    },
}

/// The full explanation of one packet's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Trace {
    /// The phases in order.
    pub phases: Vec<Phase>,
    /// Input interface name.
    pub input_interface: String,
    /// Output interface name, when known.
    pub output_interface: Option<String>,
    /// The action.
    pub action: Action,
}

impl Trace {
    /// True when forwarded.
    pub fn allowed(&self) -> bool {
        self.action == Action::Allow
    }

    /// The phase of `kind`, if present.
    pub fn phase(&self, kind: PhaseKind) -> Option<&Phase> {
        self.phases.iter().find(|p| p.kind == kind)
    }

    /// Render as packet-tracer text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (n, p) in self.phases.iter().enumerate() {
            let _ = writeln!(out, "Phase: {}", n.saturating_add(1));
            let _ = writeln!(out, "Type: {}", p.kind.as_str());
            let _ = writeln!(out, "Subtype: {}", p.subtype);
            let _ = writeln!(out, "Result: {}", p.result.as_str());
            out.push_str("Config:\n");
            for c in &p.config {
                if c.line == 0 {
                    let _ = writeln!(out, "{}", c.text);
                } else {
                    let _ = writeln!(out, "{:>4}: {}", c.line, c.text);
                }
            }
            out.push_str("Additional Information:\n");
            for i in &p.info {
                let _ = writeln!(out, "{i}");
            }
            out.push('\n');
        }
        out.push_str("Result:\n");
        let _ = writeln!(out, "input-interface: {}", self.input_interface);
        let _ = writeln!(
            out,
            "output-interface: {}",
            self.output_interface
                .as_deref()
                .unwrap_or("NP Identified (none)")
        );
        match &self.action {
            Action::Allow => out.push_str("Action: allow\n"),
            Action::Drop(r) => {
                out.push_str("Action: drop\n");
                let _ = writeln!(out, "Drop-reason: {}", r.as_str());
            }
            Action::Authenticate { server } => {
                let _ = writeln!(
                    out,
                    "Action: authenticate (cut-through proxy prompt, server group {server})"
                );
            }
        }
        out
    }

    /// Render as JSON (needs the `serde` feature).
    #[cfg(feature = "serde")]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
