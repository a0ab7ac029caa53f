//! The seed scenario as ready-made configurations: the PIX 6.3 of
//! `fixtures/pix63-vpnclient.cfg` as a gateway, and the Cisco VPN Client 4.x and 1.1 it
//! serves as client profiles. Tests, benchmarks and fuzz targets share them; a gateway maps
//! its parsed PIX configuration onto [`crate::config`] the same way.

use crate::config::{
    ClientModeCfg, ClientProfile, Config, EncryptionAlgorithm, GatewayConfig, IntegrityAlgorithm,
    IsakmpPolicy, Limits, ModeCfgMode, P1Offer, PeerKey, Phase1Mode, QmOffer, TransformSet,
    VpnGroup,
};
use crate::crypto::cipher::CipherAlg;
use crate::crypto::dh::{DhGroup, ExponentSize};
use crate::crypto::hash::HashAlg;
use core::net::Ipv4Addr;
use pix_primitives::Secret;

fn policy(priority: u32, group: DhGroup) -> IsakmpPolicy {
    IsakmpPolicy {
        priority,
        encryption: CipherAlg::Des,
        hash: HashAlg::Md5,
        group,
        lifetime_secs: 86_400,
    }
}

/// The seed's PIX: `isakmp policy 10` (pre-share, DES, MD5, group 2, 86400 s) and `20`
/// (group 1), `vpngroup vpn3000` with `psk` and `address-pool VPNpool`, `isakmp key psk
/// address 0.0.0.0 netmask 0.0.0.0`, transform set `esp-des esp-md5-hmac`, `client
/// authentication`, `client configuration address initiate` and `respond`.
///
/// Returns the configuration and the `ip local pool VPNpool first-last`.
///
/// # Errors
/// [`crate::SmError::ModeCfg`] for a bad pool range.
pub fn seed_gateway(
    psk: &[u8],
    pool_first: Ipv4Addr,
    pool_last: Ipv4Addr,
) -> Result<(Config, modecfg::Pools), crate::SmError> {
    let mut pools = modecfg::Pools::new();
    pools.add("VPNpool", pool_first, pool_last)?;
    let group_policy = modecfg::GroupPolicy {
        address_pools: vec!["VPNpool".into()],
        ..modecfg::GroupPolicy::named("vpn3000")
    };
    let gw = GatewayConfig {
        policies: vec![policy(10, DhGroup::Modp1024), policy(20, DhGroup::Modp768)],
        groups: vec![VpnGroup {
            name: "vpn3000".into(),
            password: Secret::from_slice(psk),
            policy: group_policy,
        }],
        keys: vec![PeerKey {
            address: Ipv4Addr::UNSPECIFIED,
            netmask: Ipv4Addr::UNSPECIFIED,
            key: Secret::from_slice(psk),
            no_xauth: false,
            no_config_mode: false,
        }],
        default_policy: modecfg::GroupPolicy {
            address_pools: vec!["VPNpool".into()],
            ..modecfg::GroupPolicy::named("default")
        },
        transform_sets: vec![TransformSet {
            name: "myset".into(),
            cipher: EncryptionAlgorithm::Des,
            auth: IntegrityAlgorithm::HmacMd5_96,
        }],
        client_authentication: true,
        mode_config: ModeCfgMode {
            initiate: true,
            respond: true,
        },
        pfs: None,
        ipsec_lifetime_secs: 28_800,
        ipsec_lifetime_kb: 4_608_000,
        nat_traversal: None,
        xauth: xauth::ServerConfig::default(),
        modecfg: modecfg::ServerConfig::pix63(),
        transport_mode: false,
        aggressive_address_keys: false,
    };
    Ok((
        Config {
            gateway: Some(gw),
            limits: Limits::default(),
            exponent: ExponentSize::default(),
        },
        pools,
    ))
}

/// A client-only endpoint configuration.
#[must_use]
pub fn client() -> Config {
    Config {
        gateway: None,
        limits: Limits::default(),
        exponent: ExponentSize::default(),
    }
}

/// The phase-1 transforms of Cisco VPN Client 4.x with `group` (the seed's first six:
/// 3DES/SHA, 3DES/MD5 with XAUTH-PSK then PSK, DES/SHA, DES/MD5 with XAUTH-PSK; then
/// DES with PSK and AES-256/AES-128: 16 in all), life 2147483 s as the client sends it.
#[must_use]
pub fn vpn_client_4x_offers(group: DhGroup) -> Vec<P1Offer> {
    let o = |e: CipherAlg, h: HashAlg, a: u16| P1Offer {
        encryption: e,
        hash: h,
        group,
        auth_method: a,
        life_secs: Some(2_147_483),
    };
    let (sha, md5) = (HashAlg::Sha1, HashAlg::Md5);
    let (tdes, des) = (CipherAlg::TripleDes, CipherAlg::Des);
    let mut v = vec![
        o(tdes, sha, 65001),
        o(tdes, md5, 65001),
        o(tdes, sha, 1),
        o(tdes, md5, 1),
        o(des, sha, 65001),
        o(des, md5, 65001),
        o(des, sha, 1),
        o(des, md5, 1),
    ];
    for e in [CipherAlg::Aes256, CipherAlg::Aes128] {
        for h in [sha, md5] {
            for a in [65001, 1] {
                v.push(o(e, h, a));
            }
        }
    }
    v
}

/// VPN Client 4.x: Aggressive Mode with group name `vpn3000` (ID_KEY_ID), the 4.x
/// transforms, XAUTH/DPD/Unity vendor IDs, Xauth answered with `user`/`password`, Mode
/// Config pull, INITIAL-CONTACT.
#[must_use]
pub fn vpn_client_4x(group: DhGroup, psk: &[u8], user: &str, password: &[u8]) -> ClientProfile {
    ClientProfile {
        mode: Phase1Mode::Aggressive,
        group_name: Some("vpn3000".into()),
        psk: Secret::from_slice(psk),
        offers: vpn_client_4x_offers(group),
        xauth: Some((user.into(), Secret::from_slice(password))),
        mode_config: ClientModeCfg::Pull,
        vendor_ids: true,
        nat_t: false,
        initial_contact: true,
        fragmentation: false,
        force_natt_encapsulation: false,
    }
}

/// VPN Client 1.1: Main Mode, one DES/MD5/group-1/PSK transform, no vendor IDs, Xauth,
/// Mode Config push.
#[must_use]
pub fn vpn_client_11(psk: &[u8], user: &str, password: &[u8]) -> ClientProfile {
    ClientProfile {
        mode: Phase1Mode::Main,
        group_name: None,
        psk: Secret::from_slice(psk),
        offers: vec![P1Offer {
            encryption: CipherAlg::Des,
            hash: HashAlg::Md5,
            group: DhGroup::Modp768,
            auth_method: 1,
            life_secs: None,
        }],
        xauth: Some((user.into(), Secret::from_slice(password))),
        mode_config: ClientModeCfg::Push,
        vendor_ids: false,
        nat_t: false,
        initial_contact: true,
        fragmentation: false,
        force_natt_encapsulation: false,
    }
}

/// The seed's Quick Mode proposals 1..8: 3DES and DES with MD5/SHA, the first two of each
/// cipher AND-ed with IPCOMP (LZS), the next two alone (proposal 7 is ESP-DES/HMAC-MD5).
#[must_use]
pub fn seed_qm_offers() -> Vec<QmOffer> {
    let o = |cipher, auth, with_ipcomp| QmOffer {
        cipher,
        auth,
        with_ipcomp,
        transport: false,
    };
    vec![
        o(
            EncryptionAlgorithm::TripleDes,
            IntegrityAlgorithm::HmacMd5_96,
            true,
        ),
        o(
            EncryptionAlgorithm::TripleDes,
            IntegrityAlgorithm::HmacSha1_96,
            true,
        ),
        o(
            EncryptionAlgorithm::TripleDes,
            IntegrityAlgorithm::HmacMd5_96,
            false,
        ),
        o(
            EncryptionAlgorithm::TripleDes,
            IntegrityAlgorithm::HmacSha1_96,
            false,
        ),
        o(
            EncryptionAlgorithm::Des,
            IntegrityAlgorithm::HmacMd5_96,
            true,
        ),
        o(
            EncryptionAlgorithm::Des,
            IntegrityAlgorithm::HmacSha1_96,
            true,
        ),
        o(
            EncryptionAlgorithm::Des,
            IntegrityAlgorithm::HmacMd5_96,
            false,
        ),
        o(
            EncryptionAlgorithm::Des,
            IntegrityAlgorithm::HmacSha1_96,
            false,
        ),
    ]
}

/// The Quick Mode a VPN Client 4.x asks for once Mode Config gave it `addr`: its own
/// address against 0.0.0.0/0 (everything through the tunnel), the seed's proposals 1..8,
/// no PFS, 28800 s.
#[must_use]
pub fn vpn_client_quick_mode(addr: Ipv4Addr) -> crate::config::QuickModeRequest {
    use crate::config::{QuickModeRequest, Selector, TrafficSelector};
    QuickModeRequest {
        local: TrafficSelector::new(Selector::Addr(addr)),
        remote: TrafficSelector::new(Selector::Subnet(
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
        )),
        offers: seed_qm_offers(),
        pfs: None,
        life_secs: 28_800,
        life_kb: 0,
    }
}
