//! LOCAL: the PIX `username NAME password PW [privilege N]` user store.
//!
//! Passwords are kept in clear (as the PIX config gives them) in zeroizing
//! [`Secret`]s and compared in constant time. An unknown user costs the same
//! comparison as a known one, so timing does not tell which names exist.

use std::collections::BTreeMap;

use crate::error::XauthError;
use crate::Secret;

/// One local user.
#[derive(Debug, PartialEq, Eq)]
pub struct LocalUser {
    /// The password.
    pub password: Secret,
    /// `privilege N` (PIX default 2).
    pub privilege: u8,
}

/// The local user database.
#[derive(Debug, Default)]
pub struct LocalUsers {
    users: BTreeMap<Vec<u8>, LocalUser>,
}

/// Most users one store holds.
pub const MAX_LOCAL_USERS: usize = 10_000;

impl LocalUsers {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a user.
    pub fn add(
        &mut self,
        name: impl Into<Vec<u8>>,
        password: Secret,
        privilege: u8,
    ) -> Result<(), XauthError> {
        let name = name.into();
        if !self.users.contains_key(&name) && self.users.len() >= MAX_LOCAL_USERS {
            return Err(XauthError::TooMany {
                what: "local users",
                limit: MAX_LOCAL_USERS,
            });
        }
        self.users.insert(
            name,
            LocalUser {
                password,
                privilege,
            },
        );
        Ok(())
    }

    /// Adds a user from a PIX line `username NAME password PW [privilege N]`.
    ///
    /// `encrypted` (hashed) passwords are refused: they cannot be checked against
    /// a clear password given over Xauth by this store.
    pub fn add_config_line(&mut self, line: &str) -> Result<(), XauthError> {
        let mut words = line.split_whitespace();
        let bad = |value: u64| XauthError::BadValue {
            what: "username command",
            value,
        };
        if words.next() != Some("username") {
            return Err(bad(0));
        }
        let name = words.next().ok_or(bad(1))?;
        if words.next() != Some("password") {
            return Err(bad(2));
        }
        let pw = words.next().ok_or(bad(3))?;
        let mut privilege = 2u8;
        while let Some(w) = words.next() {
            match w {
                "privilege" => {
                    privilege = words
                        .next()
                        .and_then(|p| p.parse::<u8>().ok())
                        .filter(|p| *p <= 15)
                        .ok_or(bad(4))?;
                }
                "encrypted" => return Err(bad(5)),
                _ => return Err(bad(6)),
            }
        }
        self.add(name.as_bytes().to_vec(), Secret::from(pw), privilege)
    }

    /// Whether `user` exists and `password` is theirs (constant-time compare).
    pub fn authenticate(&self, user: &[u8], password: &[u8]) -> bool {
        match self.users.get(user) {
            Some(u) => u.password.ct_eq_bytes(password),
            None => {
                // Same work for unknown users.
                let _ = Secret::new(vec![0u8; password.len()]).ct_eq_bytes(password);
                false
            }
        }
    }

    /// A user's privilege level.
    pub fn privilege(&self, user: &[u8]) -> Option<u8> {
        self.users.get(user).map(|u| u.privilege)
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lines_and_authentication() {
        let mut u = LocalUsers::new();
        u.add_config_line("username cisco_customer password cisco123")
            .unwrap();
        u.add_config_line("username admin password s3cret privilege 15")
            .unwrap();
        assert!(u.authenticate(b"cisco_customer", b"cisco123"));
        assert!(!u.authenticate(b"cisco_customer", b"cisco1234"));
        assert!(!u.authenticate(b"cisco_customer", b""));
        assert!(!u.authenticate(b"nobody", b"cisco123"));
        assert_eq!(u.privilege(b"admin"), Some(15));
        assert_eq!(u.privilege(b"cisco_customer"), Some(2));
        assert_eq!(u.len(), 2);
        assert!(u
            .add_config_line("username x password y encrypted")
            .is_err());
        assert!(u.add_config_line("username x password").is_err());
        assert!(u.add_config_line("user x password y").is_err());
        assert!(u
            .add_config_line("username x password y privilege 99")
            .is_err());
        assert_eq!(u.len(), 2);
    }
}
