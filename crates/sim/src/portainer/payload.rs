//! JSON request bodies as Portainer decodes them (request.DecodeAndValidateJSONPayload with a Go
//! struct): field names match case-insensitively (exact match first), unknown fields are
//! ignored, `null` or a missing field leaves the zero value, a type mismatch is an error.
//! Every decoding error is a 400 `Invalid request payload` whose details imitate Go's text.

use serde_json::{Map, Value};

use super::errors::ApiError;
use super::state::EnvPair;

pub struct Payload {
    obj: Map<String, Value>,
    /// The Go struct's name, for error details (`users.adminInitPayload`).
    go_type: &'static str,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub fn decode(body: &[u8], go_type: &'static str) -> Result<Payload, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::invalid_payload("EOF"));
    }
    // Go's json.Decoder.Decode reads the first JSON value and leaves the rest unread.
    let value: Value = serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .next()
        .unwrap_or(Ok(Value::Null))
        .map_err(|e| ApiError::invalid_payload(format!("invalid JSON: {e}")))?;
    match value {
        Value::Object(obj) => Ok(Payload { obj, go_type }),
        // Go decodes `null` into a struct as "no change": every field keeps its zero value.
        Value::Null => Ok(Payload { obj: Map::new(), go_type }),
        other => Err(ApiError::invalid_payload(format!(
            "json: cannot unmarshal {} into Go value of type {go_type}",
            kind(&other)
        ))),
    }
}

impl Payload {
    fn get(&self, field: &str) -> Option<&Value> {
        self.obj
            .get(field)
            .or_else(|| self.obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(field)).map(|(_, v)| v))
            .filter(|v| !v.is_null())
    }

    fn mismatch(&self, field: &str, v: &Value, go: &str) -> ApiError {
        let struct_name = self.go_type.rsplit('.').next().unwrap_or(self.go_type);
        ApiError::invalid_payload(format!(
            "json: cannot unmarshal {} into Go struct field {struct_name}.{field} of type {go}",
            kind(v)
        ))
    }

    /// A `string` field: absent ⇒ "".
    pub fn string(&self, field: &str) -> Result<String, ApiError> {
        Ok(self.opt_string(field)?.unwrap_or_default())
    }

    /// A `*string` field: absent ⇒ None.
    pub fn opt_string(&self, field: &str) -> Result<Option<String>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.mismatch(field, v, "string")),
        }
    }

    pub fn bool(&self, field: &str) -> Result<bool, ApiError> {
        Ok(self.opt_bool(field)?.unwrap_or(false))
    }

    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.mismatch(field, v, "bool")),
        }
    }

    pub fn opt_int(&self, field: &str) -> Result<Option<i64>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Some(v) => Err(self.mismatch(field, v, "int")),
        }
    }

    /// A `[]portainer.Pair` field (`[{"name","value"}]`): absent ⇒ None.
    pub fn pairs(&self, field: &str) -> Result<Option<Vec<EnvPair>>, ApiError> {
        let Some(v) = self.get(field) else { return Ok(None) };
        let Value::Array(items) = v else {
            return Err(self.mismatch(field, v, "[]portainer.Pair"));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let pair = match item {
                Value::Object(o) => Payload { obj: o.clone(), go_type: "portainer.Pair" },
                Value::Null => {
                    out.push(EnvPair { name: String::new(), value: String::new() });
                    continue;
                }
                other => return Err(self.mismatch(field, other, "portainer.Pair")),
            };
            out.push(EnvPair { name: pair.string("name")?, value: pair.string("value")? });
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_match_case_insensitively_and_types_are_checked() {
        let p = decode(
            br#"{"username":"admin","PASSWORD":"x","Env":[{"Name":"A","value":"1"}]}"#,
            "users.adminInitPayload",
        )
        .unwrap();
        assert_eq!(p.string("Username").unwrap(), "admin");
        assert_eq!(p.string("Password").unwrap(), "x");
        assert_eq!(p.pairs("env").unwrap().unwrap(), vec![EnvPair { name: "A".into(), value: "1".into() }]);
        let p = decode(br#"{"Username":5}"#, "users.adminInitPayload").unwrap();
        let e = p.string("Username").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.error.unwrap().contains("adminInitPayload.Username of type string"));
        assert_eq!(decode(b"", "x.y").err().unwrap().error.as_deref(), Some("EOF"));
        assert!(decode(b"[1]", "x.y").is_err());
        assert_eq!(decode(b"null", "x.y").unwrap().string("Name").unwrap(), "");
        assert!(decode(b"{\"Name\":\"a\"} trailing", "x.y").is_ok(), "only the first value is read");
        assert!(decode(b"{\"Name\":", "x.y").is_err());
    }
}
