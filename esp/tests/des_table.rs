//! The table-driven DES/3DES (esp::des_table) against the RustCrypto `des` crate on
//! random keys and blocks, single blocks and CBC through `EspCipher`. (The NIST
//! vectors in tests/vectors.rs run through the same code.)
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use esp::cipher::EspCipher;
use esp::des_table::{des_encrypt_block, tdes_decrypt_block, tdes_encrypt_block};
use esp::EncryptionAlgorithm;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn des_block_matches_des_crate(key in any::<[u8; 8]>(), block in any::<[u8; 8]>()) {
        let theirs = des::Des::new_from_slice(&key).unwrap();
        let mut b = Array::from(block);
        theirs.encrypt_block(&mut b);
        prop_assert_eq!(des_encrypt_block(key, block), <[u8; 8]>::from(b));
    }

    #[test]
    fn tdes_block_matches_des_crate(key in any::<[u8; 24]>(), block in any::<[u8; 8]>()) {
        let theirs = des::TdesEde3::new_from_slice(&key).unwrap();
        let mut b = Array::from(block);
        theirs.encrypt_block(&mut b);
        prop_assert_eq!(tdes_encrypt_block(&key, block), <[u8; 8]>::from(b));
        let mut d = Array::from(block);
        theirs.decrypt_block(&mut d);
        prop_assert_eq!(tdes_decrypt_block(&key, block), <[u8; 8]>::from(d));
    }

    #[test]
    fn cbc_matches_des_crate(
        triple in any::<bool>(),
        key in any::<[u8; 24]>(),
        iv in any::<[u8; 8]>(),
        blocks in 1usize..40,
        seed in any::<u8>(),
    ) {
        let data: Vec<u8> = (0..blocks * 8).map(|i| (i as u8).wrapping_mul(seed) ^ 0x3c).collect();
        let (alg, k) = if triple { (EncryptionAlgorithm::TripleDes, &key[..]) } else { (EncryptionAlgorithm::Des, &key[..8]) };
        let ours = EspCipher::new(alg, k).unwrap();
        let mut mine = data.clone();
        ours.encrypt_cbc(&iv, &mut mine).unwrap();
        let mut theirs = data.clone();
        let (chunks, _) = Array::slice_as_chunks_mut(&mut theirs);
        if triple {
            cbc::Encryptor::<des::TdesEde3>::new_from_slices(k, &iv).unwrap().encrypt_blocks(chunks);
        } else {
            cbc::Encryptor::<des::Des>::new_from_slices(k, &iv).unwrap().encrypt_blocks(chunks);
        }
        prop_assert_eq!(&mine, &theirs);
        ours.decrypt_cbc(&iv, &mut mine).unwrap();
        prop_assert_eq!(mine, data);
    }
}
