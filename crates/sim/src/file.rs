//! Files on the simulated host and inside its guests: content, mode and ownership. These are
//! the simulator's own types (the state file stores them), independent of any client's.

use serde::{Deserialize, Serialize};

/// A file as it exists on the simulated host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileData {
    #[serde(with = "bytes_as_text")]
    pub content: Vec<u8>,
    /// Permission bits, e.g. 0o644.
    pub mode: u32,
    /// Owner user name.
    pub owner: String,
    /// Owner group name.
    pub group: String,
}

/// A file to write: `None` owner/group means the connecting user (root).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWrite {
    #[serde(with = "bytes_as_text")]
    pub content: Vec<u8>,
    pub mode: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
}

/// File content in the state JSON: UTF-8 text as a string (readable, diffable), anything else
/// as `hex:<hex digits>`. Text that itself starts with `hex:` is hex-encoded too, so reading
/// back is unambiguous.
mod bytes_as_text {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    const MARK: &str = "hex:";

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(v) {
            Ok(text) if !text.starts_with(MARK) => s.serialize_str(text),
            _ => {
                let mut out = String::with_capacity(MARK.len() + 2 * v.len());
                out.push_str(MARK);
                for b in v {
                    out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
                    out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
                }
                s.serialize_str(&out)
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        let Some(digits) = text.strip_prefix(MARK) else {
            return Ok(text.into_bytes());
        };
        if digits.len() % 2 != 0 {
            return Err(D::Error::custom("hex content has an odd number of digits"));
        }
        digits
            .as_bytes()
            .chunks(2)
            .map(|pair| {
                let hi = char::from(pair[0]).to_digit(16);
                let lo = char::from(pair[1]).to_digit(16);
                match (hi, lo) {
                    (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                    _ => Err(D::Error::custom("hex content holds a non-hex digit")),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_round_trips_as_text_or_hex() {
        for content in [b"hello\n".to_vec(), vec![0, 159, 255], b"hex:abc".to_vec(), Vec::new()] {
            let f = FileData { content, mode: 0o600, owner: "root".into(), group: "root".into() };
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(serde_json::from_str::<FileData>(&json).unwrap(), f);
        }
        let json = serde_json::to_string(&FileData {
            content: b"plain".to_vec(),
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
        })
        .unwrap();
        assert!(json.contains("\"content\":\"plain\""), "{json}");
        let bad = r#"{"content":"hex:zz","mode":420,"owner":"root","group":"root"}"#;
        assert!(serde_json::from_str::<FileData>(bad).is_err());
    }
}
