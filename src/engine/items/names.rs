//! Entity names and the directory names they are stored under. A name is any 1 to 200
//! characters without `/` or control characters, which no file system takes as is (length in
//! bytes, case folding, reserved names), so the directory is a readable prefix and a hash.

use std::fmt;

use sha2::{Digest, Sha256};

pub const MAX_NAME_CHARS: usize = 200;

/// A valid entity name: a data source's id, or `Customer`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntityNameError {
    #[error("an entity name needs 1 to {MAX_NAME_CHARS} characters")]
    Length,
    #[error("an entity name may not contain '/' or control characters")]
    Character,
}

impl EntityName {
    pub fn parse(name: &str) -> Result<EntityName, EntityNameError> {
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS {
            return Err(EntityNameError::Length);
        }
        if name.chars().any(|c| c == '/' || c.is_control()) {
            return Err(EntityNameError::Character);
        }
        Ok(EntityName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The directory name: up to 32 safe ASCII characters of the name (for people reading
    /// the data dir), a dash and 32 hex digits of its SHA-256. Lowercase hex and a hash of the
    /// exact name keep names that differ only in case apart on any file system.
    pub fn dir_name(&self) -> String {
        let prefix: String = self
            .0
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            .take(32)
            .collect();
        let digest = Sha256::digest(self.0.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{prefix}-{hex}")
    }
}

impl fmt::Display for EntityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        let table = [
            ("", Err(EntityNameError::Length), "empty"),
            ("a/b", Err(EntityNameError::Character), "a slash"),
            ("a\nb", Err(EntityNameError::Character), "a newline"),
            (
                "a\u{7f}",
                Err(EntityNameError::Character),
                "DEL is a control character",
            ),
        ];
        for (name, expected, reason) in table {
            assert_eq!(EntityName::parse(name).map(|_| ()), expected, "{reason}");
        }
        assert!(EntityName::parse(&"é".repeat(200)).is_ok());
        assert_eq!(
            EntityName::parse(&"é".repeat(201)),
            Err(EntityNameError::Length)
        );
    }

    #[test]
    fn directory_names_are_short_safe_and_distinct() {
        let names = [
            "Customer",
            "customer",
            "..",
            "con",
            " a b ",
            &"日本".repeat(100),
        ];
        let dirs: Vec<String> = names
            .iter()
            .map(|n| EntityName::parse(n).expect("valid").dir_name())
            .collect();
        for dir in &dirs {
            assert!(dir.len() <= 32 + 1 + 32, "{dir}");
            assert!(
                dir.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{dir}"
            );
        }
        let unique: std::collections::HashSet<_> = dirs.iter().collect();
        assert_eq!(unique.len(), dirs.len());
        assert!(dirs[0].starts_with("Customer-"));
    }
}
