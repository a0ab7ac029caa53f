//! Proposal selection exactly as the PIX logs it: every local `isakmp policy` in priority
//! order against every offered transform in offered order (first acceptable wins), and
//! Quick Mode proposals against the crypto map's transform sets.

use crate::config::{
    EncryptionAlgorithm, GatewayConfig, IntegrityAlgorithm, IsakmpPolicy, TransformSet,
};
use crate::crypto::cipher::CipherAlg;
use crate::crypto::dh::DhGroup;
use crate::crypto::hash::HashAlg;
use crate::event::DebugEvent;
use isakmp_wire::attr::ipsec::IpsecTransform;
use isakmp_wire::attr::phase1::Phase1Transform;
use isakmp_wire::payload::proposal::Proposal;
use isakmp_wire::payload::sa::SaPayload;
use isakmp_wire::payload::transform::OwnedTransform;
use isakmp_wire::payload::transform::Transform;
use isakmp_wire::ProtocolId;

/// The phase-1 suite both sides use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Suite {
    pub cipher: CipherAlg,
    pub hash: HashAlg,
    pub group: DhGroup,
    pub auth_method: u16,
    pub life_secs: u64,
    /// The chosen transform as offered (echoed in the reply).
    pub transform: OwnedTransform,
    pub proposal_number: u8,
}

/// Checks one typed transform against one policy.
fn acceptable(t: &Phase1Transform, p: &IsakmpPolicy, client_auth: bool) -> bool {
    let enc = t.encryption.map(u16::from);
    let key = t.key_length.and_then(|k| u16::try_from(k).ok());
    let cipher_ok = enc
        .and_then(|e| CipherAlg::from_attributes(e, key).ok())
        .is_some_and(|c| c == p.encryption);
    let hash_ok = t.hash.map(u16::from) == Some(p.hash.attribute());
    let group_ok = t.group.map(u16::from) == Some(p.group.attribute());
    let auth_ok = match t.auth_method.map(u16::from) {
        Some(1) => true,
        // XAUTHInitPreShared matches a pre-share policy only when the crypto map asks
        // for client authentication (the seed's 4.x transform 6 against policy 10).
        Some(65001) => client_auth,
        _ => false,
    };
    // The PIX accepts an offered lifetime up to its own; longer ones are accepted too and
    // answered with RESPONDER-LIFETIME. Either way the lifetime does not reject.
    cipher_ok && hash_ok && group_ok && auth_ok
}

/// Phase-1 selection over the first proposal of an SA payload. Returns the suite and the
/// debug events in PIX order; `None` when nothing is acceptable (NO-PROPOSAL-CHOSEN).
pub(crate) fn select_phase1(
    gw: &GatewayConfig,
    sa: &SaPayload<'_>,
    debug: &mut Vec<DebugEvent>,
    debugging: bool,
) -> Result<Option<Suite>, crate::SmError> {
    // Priority order without cloning the policies (a stable sort, as sorted_policies).
    let mut policies: Vec<&IsakmpPolicy> = gw.policies.iter().collect();
    policies.sort_by_key(|p| p.priority);
    let Some(proposal) = sa.proposals().next().transpose()? else {
        return Ok(None);
    };
    if !debugging {
        // Nothing is logged: the transforms are walked in place (no list of them), and
        // the walk stops at the first acceptable one. The SA payload was validated when
        // it was parsed, so walking stops on the same errors as collecting would.
        for &p in &policies {
            for t in proposal.transforms() {
                let t = t?;
                let typed = Phase1Transform::from_attributes(t.attributes())?;
                if acceptable(&typed, p, gw.client_authentication) {
                    return Ok(Some(chosen_suite(p, &typed, &t, proposal.number)?));
                }
            }
        }
        return Ok(None);
    }
    let transforms: Vec<_> = proposal.transforms().collect::<Result<_, _>>()?;
    for &p in &policies {
        let count = transforms.len();
        for (i, t) in transforms.iter().enumerate() {
            let typed = Phase1Transform::from_attributes(t.attributes())?;
            if debugging {
                debug.push(DebugEvent::CheckingTransform {
                    transform: t.number,
                    priority: p.priority,
                    encryption: typed.encryption.map(|e| (u16::from(e), typed.key_length)),
                    hash: typed.hash.map(u16::from),
                    group: typed.group.map(u16::from),
                    auth: typed.auth_method.map(u16::from),
                    life_secs: typed.life_seconds,
                });
            }
            let ok = acceptable(&typed, p, gw.client_authentication);
            if debugging {
                let next_payload = if i.saturating_add(1) < count { 3 } else { 0 };
                debug.push(DebugEvent::TransformVerdict {
                    acceptable: ok,
                    next_payload,
                });
            }
            if ok {
                return Ok(Some(chosen_suite(p, &typed, t, proposal.number)?));
            }
        }
    }
    Ok(None)
}

/// The suite of the acceptable transform `t` under policy `p`.
fn chosen_suite(
    p: &IsakmpPolicy,
    typed: &Phase1Transform,
    t: &isakmp_wire::payload::transform::Transform<'_>,
    proposal_number: u8,
) -> Result<Suite, crate::SmError> {
    Ok(Suite {
        cipher: p.encryption,
        hash: p.hash,
        group: p.group,
        auth_method: typed.auth_method.map_or(1, u16::from),
        life_secs: typed
            .life_seconds
            .unwrap_or(p.lifetime_secs)
            .min(p.lifetime_secs),
        transform: t.to_owned_transform()?,
        proposal_number,
    })
}

/// The chosen Quick Mode proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IpsecChoice {
    pub proposal_number: u8,
    pub peer_spi: u32,
    pub cipher: EncryptionAlgorithm,
    pub auth: IntegrityAlgorithm,
    pub encapsulation: u16,
    pub life_secs: Option<u64>,
    pub life_kb: Option<u64>,
    pub transform: OwnedTransform,
}

fn set_matches(sets: &[TransformSet], c: EncryptionAlgorithm, a: IntegrityAlgorithm) -> bool {
    sets.iter().any(|s| s.cipher == c && s.auth == a)
}

/// The first ESP transform of `esp` that a transform set and the encapsulation modes
/// allow, with its algorithms and typed attributes.
fn pick_transform<'a>(
    sets: &[TransformSet],
    modes: &[u16],
    esp: &Proposal<'a>,
    note: &mut impl FnMut(DebugEvent),
    debugging: bool,
) -> Result<
    Option<(
        Transform<'a>,
        EncryptionAlgorithm,
        IntegrityAlgorithm,
        IpsecTransform,
    )>,
    crate::SmError,
> {
    for t in esp.transforms() {
        let t = t?;
        // Without debugging nothing is logged for a rejected transform: one whose ESP
        // transform ID no transform set has is rejected without typing its attributes
        // (they were validated when the SA payload was parsed).
        if !debugging
            && !sets
                .iter()
                .any(|s| s.cipher.transform_id() == t.transform_id)
        {
            continue;
        }
        let typed = IpsecTransform::from_attributes(t.attributes())?;
        let auth = typed.auth.map(|a| u64::from(u16::from(a)));
        note(DebugEvent::IpsecTransform {
            number: t.number,
            transform_id: t.transform_id,
            auth,
            encaps: typed.encapsulation.map(|e| u64::from(u16::from(e))),
            life_secs: typed.life_seconds,
        });
        let cipher = EncryptionAlgorithm::from_ike_transform(t.transform_id, typed.key_length);
        let a = auth.and_then(IntegrityAlgorithm::from_ike_attribute);
        // Tunnel mode (and transport mode when configured); UDP-encapsulated exactly
        // when a NAT was detected, plain otherwise.
        let mode_ok = modes.contains(&typed.encapsulation.map_or(1, u16::from));
        match (cipher, a) {
            (Some(c), Some(a)) if set_matches(sets, c, a) && mode_ok => {
                return Ok(Some((t, c, a, typed)));
            }
            _ => {
                note(DebugEvent::IpsecNotSupported {
                    protocol: 3,
                    transform_id: t.transform_id,
                    hmac_alg: auth.unwrap_or(0),
                });
            }
        }
    }
    Ok(None)
}

/// Quick Mode selection, proposal by proposal (AND-ed proposals share a number).
pub(crate) fn select_ipsec(
    sets: &[TransformSet],
    modes: &[u16],
    sa: &SaPayload<'_>,
    debug: &mut Vec<DebugEvent>,
    debugging: bool,
) -> Result<Option<IpsecChoice>, crate::SmError> {
    // With debugging off nothing is recorded: the list stays empty.
    let mut note = |d: DebugEvent| {
        if debugging {
            debug.push(d);
        }
    };
    let proposals: Vec<_> = sa.proposals().collect::<Result<_, _>>()?;
    let mut i = 0usize;
    while let Some(first) = proposals.get(i) {
        let number = first.number;
        let group_len = proposals
            .iter()
            .skip(i)
            .take_while(|p| p.number == number)
            .count();
        let group = proposals.get(i..i.saturating_add(group_len)).unwrap_or(&[]);
        i = i.saturating_add(group_len.max(1));
        note(DebugEvent::CheckingIpsecProposal { number });
        let Some(esp) = group.iter().find(|p| p.protocol == ProtocolId::Esp) else {
            note(DebugEvent::IpsecVerdict { acceptable: false });
            continue;
        };
        let chosen = pick_transform(sets, modes, esp, &mut note, debugging)?;
        let Some((t, cipher, auth, typed)) = chosen else {
            note(DebugEvent::IpsecVerdict { acceptable: false });
            if group_len > 1 {
                note(DebugEvent::SkippingAnded { number });
            }
            continue;
        };
        note(DebugEvent::IpsecVerdict { acceptable: true });
        // An AND-ed partner (IPCOMP with its 2-byte CPI) is something we do not do: the
        // PIX rejects the whole proposal with "bad SPI size of 2 octets!".
        if let Some(other) = group.iter().find(|p| p.protocol != ProtocolId::Esp) {
            note(DebugEvent::BadSpiSize {
                size: other.spi.len(),
            });
            continue;
        }
        let Ok(spi) = <[u8; 4]>::try_from(esp.spi) else {
            note(DebugEvent::BadSpiSize {
                size: esp.spi.len(),
            });
            continue;
        };
        return Ok(Some(IpsecChoice {
            proposal_number: number,
            peer_spi: u32::from_be_bytes(spi),
            cipher,
            auth,
            encapsulation: typed.encapsulation.map_or(1, u16::from),
            life_secs: typed.life_seconds,
            life_kb: typed.life_kilobytes,
            transform: t.to_owned_transform()?,
        }));
    }
    Ok(None)
}
