//! A JSON body whose secret leaves stay [`Secret`]s until the client sends it: the value a
//! dry-run shows and the journal keeps is built from the same tree with those leaves masked.

use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonValue {
    Plain(serde_json::Value),
    Secret(Secret),
    Object(Vec<(String, JsonValue)>),
    Array(Vec<JsonValue>),
}

impl JsonValue {
    pub fn text(s: impl Into<String>) -> Self {
        JsonValue::Plain(serde_json::Value::String(s.into()))
    }

    pub fn object<K: Into<String>>(fields: impl IntoIterator<Item = (K, JsonValue)>) -> Self {
        JsonValue::Object(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The real JSON (called only by the client, to send it).
    pub fn expose(&self) -> serde_json::Value {
        match self {
            JsonValue::Plain(v) => v.clone(),
            JsonValue::Secret(s) => serde_json::Value::String(s.expose().to_string()),
            JsonValue::Object(fields) => {
                serde_json::Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.expose())).collect())
            }
            JsonValue::Array(items) => serde_json::Value::Array(items.iter().map(JsonValue::expose).collect()),
        }
    }

    /// Every secret in the tree (the client masks them in any error text it returns).
    pub fn secrets(&self) -> Vec<&Secret> {
        match self {
            JsonValue::Plain(_) => Vec::new(),
            JsonValue::Secret(s) => vec![s],
            JsonValue::Object(fields) => fields.iter().flat_map(|(_, v)| v.secrets()).collect(),
            JsonValue::Array(items) => items.iter().flat_map(JsonValue::secrets).collect(),
        }
    }
}
